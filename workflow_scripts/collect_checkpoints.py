"""Rule collect_checkpoints -> pdiff.pipeline.collect."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.collect(snakemake.params.cfg, snakemake.input.data, snakemake.input.base,
                     snakemake.wildcards.location, snakemake.params.k,
                     int(snakemake.wildcards.seed), snakemake.output.checkpoints,
                     snakemake.output.table, snakemake.output.predictions,
                     threads=snakemake.threads)
