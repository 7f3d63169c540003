rule summarize:
    input:
        unpack(get_main_evaluations),
    output:
        csv=RESULTS + "/main_table.csv",
        md=RESULTS + "/main_table.md",
    log:
        log_path(RESULTS + "/main_table"),
    script:
        "../workflow_scripts/summarize.py"
