rule param_matrix:
    input:
        data=RESULTS + "/data.safetensors",
        base=RUN + "/base.safetensors",
        checkpoints=SUBSET + "/checkpoints",
    output:
        matrix=MATRIX + "/param_matrix.safetensors",
        layout=MATRIX + "/layout.json",
    log:
        log_path(MATRIX + "/param_matrix"),
    params:
        cfg=get_cfg("data", "network", "locations"),
    script:
        "../workflow_scripts/param_matrix.py"
