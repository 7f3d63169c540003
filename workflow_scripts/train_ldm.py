"""Rule train_ldm -> pdiff.pipeline.train_ldm."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.train_ldm(
        snakemake.params.cfg,
        ldm=snakemake.params.ldm,
        matrix_path=snakemake.input.matrix,
        ae_path=snakemake.input.ae,
        seed=int(snakemake.wildcards.seed),
        out_ldm=snakemake.output.ldm,
        out_metrics=snakemake.output.metrics,
        threads=snakemake.threads,
    )
