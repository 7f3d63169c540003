"""Rule similarity_by_k -> pdiff.analyses.similarity_by_k."""

from pdiff import analyses, runtime

with runtime.output_to(snakemake.log[0]):
    o = snakemake.output
    analyses.similarity_by_k(
        snakemake.params.ks,
        prediction_files=list(snakemake.input),
        out_csv=o.csv,
        out_md=o.md,
        out_png=o.png,
    )
