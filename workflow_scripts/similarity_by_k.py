"""Rule similarity_by_k -> pdiff.pipeline.similarity_by_k."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    o = snakemake.output
    pipeline.similarity_by_k(snakemake.params.ks, list(snakemake.input), o.csv, o.md, o.png)
