rule param_matrix:
    input:
        data=DATA,
        base=BASE,
        checkpoints=CHECKPOINTS,
    output:
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
    log:
        log_path(PARAM_MATRIX),
    params:
        cfg=get_cfg("data", "network", "locations"),
    conda:
        "../envs/pdiff.yaml"
    script:
        "../workflow_scripts/param_matrix.py"
