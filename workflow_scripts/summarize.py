"""Rule summarize -> pdiff.pipeline.summarize."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    evals = dict(zip(snakemake.params.seeds, snakemake.input, strict=True))
    table = pipeline.summarize(evals, snakemake.output.csv, snakemake.output.md)
    print(table.to_markdown(index=False, floatfmt=".2f"))
