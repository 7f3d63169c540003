"""Rule html_report: the experiment's tables and plots as one HTML page."""

from pdiff import runtime
from pdiff.html_report import html_report
from pdiff.io import save_text

with runtime.output_to(snakemake.log[0]):
    save_text(html_report(snakemake.params.title, snakemake.params.sections), snakemake.output[0])
