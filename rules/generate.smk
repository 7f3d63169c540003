rule generate:
    input:
        matrix=MATRIX + "/param_matrix.safetensors",
        ae=MODELS + "/ae.safetensors",
        ldm=MODELS + "/ldm.safetensors",
    output:
        SAMPLES + "/generated.safetensors",
    log:
        log_path(SAMPLES + "/generated"),
    benchmark:
        bench_path(SAMPLES + "/generated")
    params:
        cfg=get_cfg("ldm", "generate"),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    script:
        "../workflow_scripts/generate.py"
