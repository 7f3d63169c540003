"""Rule memorization_baselines -> pdiff.pipeline.memorization."""
from pdiff import pipeline, runtime

with runtime.output_to(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    pipeline.memorization(snakemake.params.cfg, i.data, i.base, i.matrix, i.layout, i.ae,
                          i.generated, int(snakemake.wildcards.seed), o.summary, o.md,
                          o.models, o.similarity, o.scatter, o.tsne, threads=snakemake.threads)
