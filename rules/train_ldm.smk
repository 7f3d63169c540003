rule train_ldm:
    input:
        matrix=MATRIX + "/param_matrix.safetensors",
        ae=MODELS + "/ae.safetensors",
    output:
        ldm=MODELS + "/ldm.safetensors",
        metrics=MODELS + "/ldm.json",
    log:
        log_path(MODELS + "/ldm"),
    benchmark:
        bench_path(MODELS + "/ldm")
    params:
        cfg=get_cfg("ldm"),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    script:
        "../workflow_scripts/train_ldm.py"
