"""Rule collect_checkpoints -> pdiff.pipeline.collect_checkpoints."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    i = snakemake.input
    earlier = (
        {
            "dir": i.earlier_checkpoints,
            "table": i.earlier_table,
            "predictions": i.earlier_predictions,
            "state": i.earlier_state,
        }
        if "earlier_table" in i.keys()
        else None
    )
    pipeline.collect_checkpoints(
        snakemake.params.cfg,
        data_path=i.data,
        base_path=i.base,
        location=snakemake.wildcards.location,
        k=int(snakemake.wildcards.n),
        seed=int(snakemake.wildcards.seed),
        out_dir=snakemake.output.checkpoints,
        out_csv=snakemake.output.table,
        out_predictions=snakemake.output.predictions,
        out_state=snakemake.output.state,
        earlier=earlier,
        run_bases=list(i.get("run_bases", [])),
        why=snakemake.params.why,
        threads=snakemake.threads,
    )
