rule ablation_table:
    """One ablation axis: a table (CSV, Markdown) and a plot of its variants."""
    input:
        variants=get_ablation_evaluations,
        sources=get_main(EVALUATION),
    output:
        csv=report(ABLATION_CSV, caption="../report/ablation.rst", category="Ablations"),
        md=ABLATION_MD,
        png=report(ABLATION_PNG, caption="../report/ablation.rst", category="Ablations"),
    log:
        log_path(ABLATION_CSV),
    conda:
        "../envs/pdiff.yaml"
    params:
        labels=get_ablation_labels,
    script:
        "../workflow_scripts/ablation_table.py"


rule ablations:
    """Every ablation axis of the config (`ablations:`), one varied at a time."""
    input:
        get_ablation_targets(),
