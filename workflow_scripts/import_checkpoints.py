"""Rule import_checkpoints -> pdiff.pipeline.import_checkpoints."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.import_checkpoints(snakemake.params.cfg, snakemake.input.data, snakemake.input.base,
                                snakemake.wildcards.location, int(snakemake.wildcards.n),
                                snakemake.output.checkpoints, snakemake.output.table,
                                snakemake.output.predictions, threads=snakemake.threads)
