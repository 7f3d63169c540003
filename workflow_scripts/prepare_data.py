"""Rule prepare_data: the data set's train/val/test split."""

from pdiff import data, runtime

with runtime.output_to(snakemake.log[0]):
    data.prepare(snakemake.params.cfg["data"], snakemake.output[0])
