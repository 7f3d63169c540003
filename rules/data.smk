rule prepare_data:
    """The data set's train / validation / test splits in one file."""
    output:
        DATA,
    log:
        log_path(DATA),
    params:
        cfg=get_cfg("data"),
    conda:
        "../envs/pdiff.yaml"
    script:
        "../workflow_scripts/prepare_data.py"
