rule prepare_data:
    """The data set's train / validation / test splits in one file."""
    output:
        DATA,
    log:
        log_path(DATA),
    conda:
        "../envs/pdiff.yaml"
    params:
        cfg=get_cfg("data"),
    script:
        "../workflow_scripts/prepare_data.py"
