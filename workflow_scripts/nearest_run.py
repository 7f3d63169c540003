"""Rule nearest_run -> pdiff.pipeline.nearest_run."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.nearest_run(
        snakemake.input[0],
        out_md=snakemake.output.md,
        out_png=snakemake.output.png,
        title=snakemake.params.title,
    )
