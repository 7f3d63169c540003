"""Rule evaluate -> pdiff.pipeline.evaluate."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    pipeline.evaluate(
        snakemake.params.cfg,
        data_path=i.data,
        base_path=i.base,
        matrix_path=i.matrix,
        layout_path=i.layout,
        checkpoint_csv=i.checkpoint_table,
        source_predictions=i.source_predictions,
        ae_path=i.ae,
        generated_path=i.generated,
        vae_path=i.get("vae"),
        seed=int(snakemake.wildcards.seed),
        out_csv=o.table,
        out_predictions=o.predictions,
        out_controls=o.controls,
        threads=snakemake.threads,
    )
