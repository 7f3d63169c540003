"""Rule train_ae -> pdiff.pipeline.train_ae."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.train_ae(snakemake.params.cfg, snakemake.input.data, snakemake.input.base,
                      snakemake.input.matrix, snakemake.input.layout, snakemake.wildcards.noise,
                      int(snakemake.wildcards.seed), snakemake.output.ae,
                      snakemake.output.metrics, threads=snakemake.threads)
