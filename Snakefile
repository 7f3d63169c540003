# p-diff: Neural Network Diffusion as a Snakemake pipeline. Each stage is one rules file.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


rule all:
    """The default experiment: every stage of the default variant and the main table."""
    input:
        get_final_targets(),


include: "rules/prepare_data.smk"
include: "rules/train_base.smk"
include: "rules/collect_checkpoints.smk"
include: "rules/param_matrix.smk"
include: "rules/train_ae.smk"
include: "rules/train_ldm.smk"
include: "rules/generate.smk"
include: "rules/evaluate.smk"
include: "rules/summarize.smk"
include: "rules/export_models.smk"
include: "rules/ablations.smk"
include: "rules/memorization.smk"
include: "rules/nearest_run.smk"
include: "rules/paper_table.smk"
include: "rules/html_report.smk"


# Light rules run where snakemake runs, on a cluster too: a queue wait would outlast them,
# and prepare_data may download, which compute nodes often cannot.
localrules:
    prepare_data,
    param_matrix,
    summarize,
    ablation_table,
    similarity_by_k,
    results_so_far,
    export_models,
    nearest_run,
    html_report,


rule results_so_far:
    """Every table and plot of this experiment made so far (`--report report.html`)."""
    input:
        get_report_targets(),


rule table:
    """The default variant's targets, then the main table on the terminal even when they are
    all up to date (`make run`: `snakemake all table --forcerun table`)."""
    input:
        get_final_targets(),
    log:
        f"{LOGS}/table.log",
    localrule: True
    run:
        Path(log[0]).write_text(Path(MAIN_TABLE_MD).read_text())


onsuccess:
    print_main_table()
