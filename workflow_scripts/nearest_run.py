"""Rule nearest_run (sources from several runs): per run, its sources, its own weight
average, how many generated and control sets land nearest to it and how well they do; a
scatter of accuracy against the distance to the nearest source, coloured by run."""

from pdiff import runtime
from pdiff.evaluation import EVALUATION_COLUMNS
from pdiff.io import load_table, save_text
from pdiff.plots import nearest_run_scatter
from pdiff.runs import nearest_run_report

with runtime.output_to(snakemake.log[0]):
    evals = load_table(snakemake.input[0], (*EVALUATION_COLUMNS, "run", "run_distance"))
    save_text(nearest_run_report(evals), snakemake.output.md)
    title = snakemake.params.title or "generated models among the runs"
    nearest_run_scatter(evals, title, snakemake.output.png)
