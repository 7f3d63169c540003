rule train_ae:
    input:
        data=RESULTS + "/data.safetensors",
        base=RUN + "/base.safetensors",
        matrix=MATRIX + "/param_matrix.safetensors",
        layout=MATRIX + "/layout.json",
    output:
        ae=MODELS + "/ae.safetensors",
        metrics=MODELS + "/ae.json",
    log:
        log_path(MODELS + "/ae"),
    benchmark:
        bench_path(MODELS + "/ae")
    params:
        cfg=get_cfg("data", "network", "ae", "evaluate"),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    script:
        "../workflow_scripts/train_ae.py"
