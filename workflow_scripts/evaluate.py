"""Rule evaluate -> pdiff.pipeline.evaluate."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.evaluate(snakemake.params.cfg, snakemake.input.data, snakemake.input.base,
                      snakemake.input.matrix, snakemake.input.layout,
                      snakemake.input.checkpoint_table, snakemake.input.source_predictions,
                      snakemake.input.ae, snakemake.input.generated, snakemake.output.table,
                      snakemake.output.predictions, threads=snakemake.threads)
