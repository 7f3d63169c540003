rule param_matrix:
    """The first K checkpoints of the subset as a K x D matrix, its statistics and layout
    (from several runs: the first K/R of each, aligned onto run 0 for align: weights)."""
    input:
        unpack(get_runs_table),
        data=DATA,
        base=BASE,
        checkpoints=get_collection(CHECKPOINTS),
    output:
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
    log:
        log_path(PARAM_MATRIX),
    conda:
        "../envs/pdiff.yaml"
    params:
        cfg=get_cfg("data", "network", "locations"),
    script:
        "../workflow_scripts/param_matrix.py"
