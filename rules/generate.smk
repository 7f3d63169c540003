rule generate:
    """N new parameter sets: latents sampled by the DDPM, decoded by the AE."""
    input:
        matrix=PARAM_MATRIX,
        ae=get_ae,
        ldm=LDM,
    output:
        GENERATED,
    log:
        log_path(GENERATED),
    benchmark:
        bench_path(GENERATED)
    conda:
        "../envs/pdiff.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
    params:
        cfg=get_cfg("generate"),
    script:
        "../workflow_scripts/generate.py"
