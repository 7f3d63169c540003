rule train_ldm:
    """The latent DDPM of one named denoiser on the AE's latents of the sources."""
    input:
        matrix=PARAM_MATRIX,
        ae=get_ae,
    output:
        ldm=LDM,
        metrics=LDM_METRICS,
    log:
        log_path(LDM),
    benchmark:
        bench_path(LDM)
    conda:
        "../envs/pdiff.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
    params:
        cfg=get_cfg(),
        ldm=get_ldm_settings,
    script:
        "../workflow_scripts/train_ldm.py"
