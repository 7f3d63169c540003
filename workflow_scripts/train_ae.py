"""Rules train_ae, train_own_ae, train_vae, train_own_vae -> pdiff.pipeline.train_ae."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.train_ae(
        snakemake.params.cfg,
        ae_settings=snakemake.params.ae,
        kl_weight=snakemake.params.kl_weight,
        data_path=snakemake.input.data,
        base_path=snakemake.input.base,
        matrix_path=snakemake.input.matrix,
        layout_path=snakemake.input.layout,
        noise=snakemake.wildcards.noise,
        seed=int(snakemake.wildcards.seed),
        out_ae=snakemake.output.ae,
        out_metrics=snakemake.output.metrics,
        threads=snakemake.threads,
    )
