"""Rule train_ldm -> pdiff.pipeline.train_ldm."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.train_ldm(snakemake.params.cfg, snakemake.input.matrix, snakemake.input.ae,
                       snakemake.wildcards.denoiser, int(snakemake.wildcards.seed),
                       snakemake.output.ldm, snakemake.output.metrics,
                       threads=snakemake.threads)
