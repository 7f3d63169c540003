"""Rule paper_table -> pdiff.analyses.paper_table."""

from pdiff import analyses, runtime

with runtime.output_to(snakemake.log[0]):
    cells = [
        (task, net, path)
        for (task, net), path in zip(snakemake.params.cells, snakemake.input.tables, strict=True)
    ]
    print(analyses.paper_table(cells, out_csv=snakemake.output.csv, out_md=snakemake.output.md))
