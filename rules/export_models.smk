rule export_models:
    """The best generated models of a variant as complete networks (safetensors + card), and
    its generator as one folder (pdiff.ParameterGenerator.load)."""
    input:
        data=DATA,
        base=BASE,
        matrix=PARAM_MATRIX,
        layout=LAYOUT,
        ae=get_ae,
        ldm=LDM,
        generated=GENERATED,
        evaluation=EVALUATION,
        predictions=PREDICTIONS,
    output:
        directory(EXPORT),
    log:
        log_path(EXPORT),
    conda:
        "../envs/pdiff.yaml"
    params:
        cfg=get_cfg("data", "network", "export", "collect", "generate"),
        ae=get_ae_settings,
        ldm=get_ldm_settings,
        provenance=lambda wildcards: get_provenance(wildcards),
    script:
        "../workflow_scripts/export_models.py"


rule export:
    """Exported models of the default variant, every seed (`export:` in the config)."""
    input:
        get_main(EXPORT),
