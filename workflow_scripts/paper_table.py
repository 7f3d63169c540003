"""Rule paper_table -> pdiff.pipeline.paper_table."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    cells = [(task, net, path) for (task, net), path
             in zip(snakemake.params.cells, snakemake.input, strict=True)]
    print(pipeline.paper_table(cells, out_csv=snakemake.output.csv, out_md=snakemake.output.md))
