"""Rule generate -> pdiff.pipeline.generate."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.generate(snakemake.params.cfg, snakemake.input.matrix, snakemake.input.ae,
                      snakemake.input.ldm, snakemake.wildcards.sampler,
                      int(snakemake.wildcards.seed), snakemake.output[0],
                      threads=snakemake.threads)
