"""Rule summarize -> pdiff.pipeline.summarize."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    seeds = snakemake.params.seeds
    table, verdict = pipeline.summarize(
        dict(zip(seeds, snakemake.input.evaluations, strict=True)),
        ae_metrics=dict(zip(seeds, snakemake.input.ae_metrics, strict=True)),
        ldm_metrics=dict(zip(seeds, snakemake.input.ldm_metrics, strict=True)),
        out_csv=snakemake.output.csv,
        out_md=snakemake.output.md,
        variant=snakemake.params.variant,
        resamples=snakemake.params.resamples,
    )
    print(f"Variant {snakemake.params.variant}")
    print(table.to_markdown(index=False, floatfmt=".2f"))
    for line in verdict:
        print(line)
