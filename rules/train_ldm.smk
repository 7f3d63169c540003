rule train_ldm:
    """The latent DDPM on the AE's latents of the sources (conv or transformer)."""
    input:
        matrix=PARAM_MATRIX,
        ae=AE,
    output:
        ldm=LDM,
        metrics=LDM_METRICS,
    log:
        log_path(LDM),
    benchmark:
        bench_path(LDM)
    params:
        cfg=get_cfg("ldm"),
    threads: workflow.cores
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../envs/pdiff.yaml"
    script:
        "../workflow_scripts/train_ldm.py"
