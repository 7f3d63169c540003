"""Rule import_checkpoints -> pdiff.pipeline.import_checkpoints."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.import_checkpoints(
        snakemake.params.cfg,
        data_path=snakemake.input.data,
        base_path=snakemake.input.base,
        location=snakemake.wildcards.location,
        k=int(snakemake.wildcards.n),
        out_dir=snakemake.output.checkpoints,
        out_csv=snakemake.output.table,
        out_predictions=snakemake.output.predictions,
        threads=snakemake.threads,
    )
