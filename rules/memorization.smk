rule memorization_baselines:
    input:
        data=DATA,
        base=BASE,
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
        ae=AE,
        generated=GENERATED,
    output:
        summary=MEMORIZATION + ".csv",
        md=MEMORIZATION + ".md",
        models=MEMORIZATION + "_models.csv",
        similarity=MEMORIZATION + "_similarity.safetensors",
        scatter=MEMORIZATION + "_scatter.png",
        tsne=MEMORIZATION + "_tsne.png",
    log:
        log_path(MEMORIZATION + ".csv"),
    benchmark:
        bench_path(MEMORIZATION + ".csv")
    params:
        cfg=get_cfg("data", "network", "collect", "evaluate", "memorization"),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../envs/pdiff.yaml"
    script:
        "../workflow_scripts/memorization.py"


rule similarity_by_k:
    input:
        get_k_predictions,
    output:
        csv=SIMILARITY_BY_K + ".csv",
        md=SIMILARITY_BY_K + ".md",
        png=SIMILARITY_BY_K + ".png",
    log:
        log_path(SIMILARITY_BY_K + ".csv"),
    params:
        ks=[variant["k"] for _, variant in get_ablation_variants("k")],
    conda:
        "../envs/pdiff.yaml"
    script:
        "../workflow_scripts/similarity_by_k.py"


rule memorization:
    input:
        get_memorization_targets(),
