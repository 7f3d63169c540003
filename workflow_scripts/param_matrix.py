"""Rule param_matrix -> pdiff.pipeline.param_matrix."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    pipeline.param_matrix(snakemake.params.cfg, snakemake.input.data, snakemake.input.base,
                          snakemake.input.checkpoints, snakemake.wildcards.location,
                          int(snakemake.wildcards.k), snakemake.output.matrix,
                          snakemake.output.layout)
