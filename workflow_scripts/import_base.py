"""Rule import_base -> pdiff.pipeline.import_base."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.import_base(snakemake.params.cfg, snakemake.input.data, snakemake.output.model,
                         snakemake.output.metrics, threads=snakemake.threads)
