# `snakemake paper_table`: the paper's main table, one experiment per data set x architecture.
# Each experiment is this workflow again, as a module with its own config (get_paper_cells):
# its rules are prefixed with its name (cifar100_resnet18_train_base, also
# cifar100_resnet18_ablations), its files live under results/<experiment>/ as when it runs
# alone, and all of them are one DAG that a profile spreads over GPUs.
PAPER_CELLS = get_paper_cells()

for cell_name, (_, _, cell_config) in PAPER_CELLS.items():
    cell_prefix = f"{cell_name}_"

    module:
        name: cell_name
        snakefile:
            "../Snakefile"
        config:
            cell_config

    use rule * from cell_name exclude all, paper_table as cell_prefix*


# Cells with the same data (a task's row of networks) share its files in results/shared/: one
# rule makes them, the first cell's (the others' would make the same file, which Snakemake
# calls ambiguous).
RULE_NAMES = {r.name for r in workflow.rules}
for shared_rule in ("prepare_data", "train_base", "train_run_base", "collect_checkpoints"):
    cells = [f"{cell}_{shared_rule}" for cell in PAPER_CELLS]
    if shared_rule in RULE_NAMES and cells:
        workflow.ruleorder(shared_rule, *(rule for rule in cells if rule in RULE_NAMES))


rule paper_table:
    """The paper's main table: every data set x architecture cell, gathered (and each cell's
    report.html, as its own run makes it)."""
    input:
        tables=get_paper_tables,
        reports=lambda w: [f"{get_results(name)}/report.html" for name in PAPER_CELLS],
    output:
        csv=report(PAPER_TABLE_CSV, caption="../report/paper_table.rst", category="Main table"),
        md=PAPER_TABLE_MD,
    log:
        "results/logs/paper_table.log",
    conda:
        "../envs/pdiff.yaml"
    params:
        cells=[(task, net) for task, net, _ in PAPER_CELLS.values()],
    script:
        "../workflow_scripts/paper_table.py"
