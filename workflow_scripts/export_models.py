"""Rule export_models -> pdiff.pipeline.export_models."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    # The variant's own generator settings (its denoiser's, and that denoiser's autoencoder).
    pipeline.export_models(
        {**snakemake.params.cfg, "ae": snakemake.params.ae, "ldm": snakemake.params.ldm},
        data_path=snakemake.input.data,
        base_path=snakemake.input.base,
        matrix_path=snakemake.input.matrix,
        layout_path=snakemake.input.layout,
        generated_path=snakemake.input.generated,
        evaluation_csv=snakemake.input.evaluation,
        predictions_path=snakemake.input.predictions,
        provenance=snakemake.params.provenance,
        out_dir=snakemake.output[0],
    )
