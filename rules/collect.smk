rule collect_checkpoints:
    input:
        data=RESULTS + "/data.safetensors",
        base=RUN + "/base.safetensors",
    output:
        checkpoints=directory(SUBSET + "/checkpoints"),
        table=SUBSET + "/checkpoints.csv",
    log:
        log_path(SUBSET + "/checkpoints"),
    benchmark:
        bench_path(SUBSET + "/checkpoints")
    params:
        cfg=get_cfg("data", "network", "locations", "collect", "evaluate"),
        k=get_collect_k(),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    script:
        "../workflow_scripts/collect_checkpoints.py"
