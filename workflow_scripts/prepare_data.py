"""Rule prepare_data -> pdiff.pipeline.prepare_data."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.prepare_data(snakemake.params.cfg, out=snakemake.output[0])
