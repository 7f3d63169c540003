"""Rule train_base -> pdiff.pipeline.train_base_model."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.train_base_model(snakemake.params.cfg, snakemake.input.data,
                              int(snakemake.wildcards.seed), snakemake.output.model,
                              snakemake.output.metrics, threads=snakemake.threads)
