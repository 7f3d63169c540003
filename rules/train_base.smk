rule train_base:
    input:
        data=RESULTS + "/data.safetensors",
    output:
        model=RUN + "/base.safetensors",
        metrics=RUN + "/base.json",
    log:
        log_path(RUN + "/base"),
    benchmark:
        bench_path(RUN + "/base")
    params:
        cfg=get_cfg("data", "network", "train_base"),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    script:
        "../workflow_scripts/train_base.py"
