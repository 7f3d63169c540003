rule prepare_data:
    output:
        RESULTS + "/data.safetensors",
    log:
        log_path(RESULTS + "/data"),
    params:
        cfg=get_cfg("data"),
    script:
        "../workflow_scripts/prepare_data.py"
