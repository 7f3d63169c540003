rule memorization_baselines:
    """Are generated models new? Similarity of p-diff and baseline models to the sources."""
    input:
        data=DATA,
        base=BASE,
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
        ae=get_ae,
        generated=GENERATED,
        controls=CONTROLS,
    output:
        summary=report(
            MEMORIZATION_CSV, caption="../report/memorization.rst", category="Memorization"
        ),
        md=MEMORIZATION_MD,
        models=MEMORIZATION_MODELS,
        similarity=MEMORIZATION_SIMILARITY,
        scatter=report(
            MEMORIZATION_SCATTER, caption="../report/memorization.rst", category="Memorization"
        ),
        tsne=report(
            MEMORIZATION_TSNE, caption="../report/memorization.rst", category="Memorization"
        ),
    log:
        log_path(MEMORIZATION_CSV),
    benchmark:
        bench_path(MEMORIZATION_CSV)
    conda:
        "../envs/pdiff.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
    params:
        cfg=get_cfg("data", "network", "collect", "evaluate", "memorization", "precision"),
    script:
        "../workflow_scripts/memorization_baselines.py"


rule similarity_by_k:
    """Max similarity to the sources against K (from the K ablation's predictions)."""
    input:
        get_k_predictions,
    output:
        csv=report(
            SIMILARITY_BY_K_CSV, caption="../report/similarity_by_k.rst", category="Memorization"
        ),
        md=SIMILARITY_BY_K_MD,
        png=report(
            SIMILARITY_BY_K_PNG, caption="../report/similarity_by_k.rst", category="Memorization"
        ),
    log:
        log_path(SIMILARITY_BY_K_CSV),
    conda:
        "../envs/pdiff.yaml"
    params:
        ks=[variant["k"] for _, variant in get_ablation_variants("k")],
    script:
        "../workflow_scripts/similarity_by_k.py"


rule memorization:
    """The memorization analysis of the default variant (every seed)."""
    input:
        get_memorization_targets(),


rule memorization_by_k:
    """Similarity to the sources for every K of the ablation grid (trains each K's AE/LDM)."""
    input:
        get_similarity_by_k_targets(),
