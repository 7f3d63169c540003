rule train_ae:
    """The parameter autoencoder (noise on input and latent), with its overfit check."""
    input:
        data=DATA,
        base=BASE,
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
    output:
        ae=AE,
        metrics=AE_METRICS,
    log:
        log_path(AE),
    benchmark:
        bench_path(AE)
    conda:
        "../envs/pdiff.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        cfg=get_cfg("data", "network", "ae", "evaluate"),
    script:
        "../workflow_scripts/train_ae.py"
