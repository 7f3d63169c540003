rule evaluate:
    input:
        data=RESULTS + "/data.safetensors",
        base=RUN + "/base.safetensors",
        matrix=MATRIX + "/param_matrix.safetensors",
        layout=MATRIX + "/layout.json",
        generated=SAMPLES + "/generated.safetensors",
    output:
        table=SAMPLES + "/evaluation.csv",
        predictions=SAMPLES + "/predictions.safetensors",
    log:
        log_path(SAMPLES + "/evaluation"),
    benchmark:
        bench_path(SAMPLES + "/evaluation")
    params:
        cfg=get_cfg("data", "network", "evaluate"),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    script:
        "../workflow_scripts/evaluate.py"
