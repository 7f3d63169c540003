"""Rule import_base -> pdiff.pipeline.import_base."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.import_base(
        snakemake.params.cfg,
        data_path=snakemake.input.data,
        out_model=snakemake.output.model,
        out_metrics=snakemake.output.metrics,
        threads=snakemake.threads,
    )
