rule nearest_run:
    """Sources from several runs: where generated and control models land among the runs."""
    input:
        EVALUATION,
    output:
        md=NEAREST_RUN_MD,
        png=report(NEAREST_RUN_PNG, caption="../report/nearest_run.rst", category="Memorization"),
    log:
        log_path(NEAREST_RUN_MD),
    conda:
        "../envs/pdiff.yaml"
    params:
        title=lambda w: f"{config['experiment']} seed {w.seed}: generated models among the runs",
    script:
        "../workflow_scripts/nearest_run.py"
