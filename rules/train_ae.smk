rule train_ae:
    """The parameter autoencoder (noise on input and latent), with its overfit check."""
    input:
        data=DATA,
        base=BASE,
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
    output:
        ae=AE,
        metrics=AE_METRICS,
    log:
        log_path(AE),
    benchmark:
        bench_path(AE)
    conda:
        "../envs/pdiff.yaml"
    threads: workflow.cores
    resources:
        gpu=1,
    params:
        cfg=get_cfg("data", "network", "evaluate"),
        ae=get_ae_settings,
        kl_weight=0,
    script:
        "../workflow_scripts/train_ae.py"


use rule train_ae as train_own_ae with:
    output:
        ae=OWN_AE,
        metrics=OWN_AE_METRICS,
    log:
        log_path(OWN_AE),
    benchmark:
        bench_path(OWN_AE)


use rule train_ae as train_vae with:
    output:
        ae=VAE,
        metrics=VAE_METRICS,
    log:
        log_path(VAE),
    benchmark:
        bench_path(VAE)
    params:
        cfg=get_cfg("data", "network", "evaluate"),
        ae=get_ae_settings,
        kl_weight=config["controls"]["vae_kl_weight"],


use rule train_ae as train_own_vae with:
    output:
        ae=OWN_VAE,
        metrics=OWN_VAE_METRICS,
    log:
        log_path(OWN_VAE),
    benchmark:
        bench_path(OWN_VAE)
    params:
        cfg=get_cfg("data", "network", "evaluate"),
        ae=get_ae_settings,
        kl_weight=config["controls"]["vae_kl_weight"],
