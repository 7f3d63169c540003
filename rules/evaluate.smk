rule evaluate:
    """Accuracy of sources, their average, AE-rebuilt sources, generated sets and controls."""
    input:
        unpack(get_vae),
        data=DATA,
        base=BASE,
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
        checkpoint_table=get_collection(CHECKPOINT_TABLE),
        source_predictions=get_collection(SOURCE_PREDICTIONS),
        ae=get_ae,
        generated=GENERATED,
    output:
        table=EVALUATION,
        predictions=PREDICTIONS,
        controls=CONTROLS,
    log:
        log_path(EVALUATION),
    benchmark:
        bench_path(EVALUATION)
    conda:
        "../envs/pdiff.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
    params:
        cfg=get_cfg("data", "network", "evaluate", "precision", "controls", "generate"),
    script:
        "../workflow_scripts/evaluate.py"
