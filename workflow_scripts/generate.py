"""Rule generate -> pdiff.pipeline.generate."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.generate(
        snakemake.params.cfg,
        matrix_path=snakemake.input.matrix,
        ae_path=snakemake.input.ae,
        ldm_path=snakemake.input.ldm,
        sampler=snakemake.wildcards.sampler,
        seed=int(snakemake.wildcards.seed),
        out=snakemake.output[0],
        threads=snakemake.threads,
    )
