"""Rule param_matrix -> pdiff.pipeline.param_matrix."""

from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.param_matrix(
        snakemake.params.cfg,
        data_path=snakemake.input.data,
        base_path=snakemake.input.base,
        ckpt_dir=snakemake.input.checkpoints,
        table_path=snakemake.input.get("table"),
        align=snakemake.wildcards.align.removeprefix("-align-") or "none",
        location=snakemake.wildcards.location,
        k=int(snakemake.wildcards.k),
        out_matrix=snakemake.output.matrix,
        out_layout=snakemake.output.layout,
    )
