rule summarize:
    """The main table over seeds, headed by its variant, with the generator's verdict."""
    input:
        evaluations=get_main(EVALUATION),
        ae_metrics=get_main("ae_metrics"),
        ldm_metrics=get_main(LDM_METRICS),
    output:
        csv=report(MAIN_TABLE, caption="../report/main_table.rst", category="Main table"),
        md=MAIN_TABLE_MD,
    log:
        log_path(MAIN_TABLE),
    conda:
        "../envs/pdiff.yaml"
    params:
        seeds=config["seeds"],
        variant=describe_variant(config),
        resamples=config["controls"]["bootstrap"],
    script:
        "../workflow_scripts/summarize.py"
