"""Rule summarize: the main table of a variant over seeds, with its verdicts."""

from pdiff import runtime
from pdiff.evaluation import EVALUATION_COLUMNS
from pdiff.io import load_json, load_table, save_table, save_text
from pdiff.reporting import summary, summary_markdown

with runtime.output_to(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    evals = {
        s: load_table(f, EVALUATION_COLUMNS) for s, f in zip(p.seeds, i.evaluations, strict=True)
    }
    metrics = {
        s: (load_json(ae), load_json(ldm))
        for s, ae, ldm in zip(p.seeds, i.ae_metrics, i.ldm_metrics, strict=True)
    }
    table, verdict = summary(evals, metrics, p.resamples)
    save_table(table, snakemake.output.csv)
    save_text(summary_markdown(table, verdict, p.variant), snakemake.output.md)
    print(summary_markdown(table, verdict, p.variant))
