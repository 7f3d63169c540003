rule ablation_table:
    input:
        variants=get_ablation_evaluations,
        sources=get_main_evaluations,
    output:
        csv=ABLATION + ".csv",
        md=ABLATION + ".md",
        png=ABLATION + ".png",
    log:
        log_path(ABLATION + ".csv"),
    params:
        labels=get_ablation_labels,
    conda:
        "../envs/pdiff.yaml"
    script:
        "../workflow_scripts/ablation_table.py"


rule ablations:
    input:
        get_ablation_targets(),
