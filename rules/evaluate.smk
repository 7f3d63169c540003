rule evaluate:
    """Accuracy of sources, their average, AE-rebuilt sources and generated sets."""
    input:
        data=DATA,
        base=BASE,
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
        checkpoint_table=get_collection(CHECKPOINT_TABLE),
        source_predictions=get_collection(SOURCE_PREDICTIONS),
        ae=AE,
        generated=GENERATED,
    output:
        table=EVALUATION,
        predictions=PREDICTIONS,
    log:
        log_path(EVALUATION),
    benchmark:
        bench_path(EVALUATION)
    conda:
        "../envs/pdiff.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        cfg=get_cfg("data", "network", "evaluate", "precision"),
    script:
        "../workflow_scripts/evaluate.py"
