"""Rule ablation_table -> pdiff.analyses.ablation_table."""

from pdiff import analyses, runtime

with runtime.output_to(snakemake.log[0]):
    table = analyses.ablation_table(
        snakemake.wildcards.axis,
        labels=snakemake.params.labels,
        eval_csvs=list(snakemake.input.variants),
        source_csvs=list(snakemake.input.sources),
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
        out_png=snakemake.output.png,
    )
    print(table.to_markdown(index=False, floatfmt=".2f"))
