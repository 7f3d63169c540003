"""Rule summarize -> pdiff.pipeline.summarize."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    table = pipeline.summarize(dict(snakemake.input.items()), snakemake.output.csv,
                               snakemake.output.md)
    print(table.to_markdown(index=False, floatfmt=".2f"))
