"""Rule memorization_baselines -> pdiff.analyses.memorization_baselines."""

from pdiff import analyses, runtime

with runtime.output_to(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    analyses.memorization_baselines(
        snakemake.params.cfg,
        data_path=i.data,
        base_path=i.base,
        matrix_path=i.matrix,
        layout_path=i.layout,
        ae_path=i.ae,
        generated_path=i.generated,
        controls_path=i.controls,
        seed=int(snakemake.wildcards.seed),
        out_summary=o.summary,
        out_summary_md=o.md,
        out_models=o.models,
        out_similarity=o.similarity,
        out_scatter=o.scatter,
        out_tsne=o.tsne,
        threads=snakemake.threads,
        title=f"{snakemake.config['experiment']}, seed {snakemake.wildcards.seed}",
    )
