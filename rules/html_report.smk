rule html_report:
    """The experiment's report, for the browser: every table and plot made so far, with
    captions (`make report` remakes it after ablations or memorization)."""
    input:
        get_report_files,
    output:
        HTML_REPORT,
    log:
        log_path(HTML_REPORT),
    conda:
        "../envs/pdiff.yaml"
    params:
        title=f"pdiff: {config['experiment']}",
        sections=get_report_sections(),
    script:
        "../workflow_scripts/html_report.py"
