"""Rule ablation_table -> pdiff.pipeline.ablation_table."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    table = pipeline.ablation_table(snakemake.wildcards.axis, snakemake.params.labels,
                                    list(snakemake.input.variants),
                                    list(snakemake.input.sources), snakemake.output.csv,
                                    snakemake.output.md, snakemake.output.png)
    print(table.to_markdown(index=False, floatfmt=".2f"))
