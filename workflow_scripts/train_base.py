"""Rules train_base, train_run_base -> pdiff.pipeline.train_base."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.train_base(
        snakemake.params.cfg,
        data_path=snakemake.input.data,
        seed=int(snakemake.wildcards.seed),
        out_model=snakemake.output.model,
        out_metrics=snakemake.output.metrics,
        run=int(snakemake.wildcards.get("run", 0)),
        threads=snakemake.threads,
    )
