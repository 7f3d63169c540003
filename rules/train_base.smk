if config["checkpoints"]["dir"]:

    rule import_base:
        """Your own base weights (checkpoints.base, or the first checkpoint)."""
        input:
            data=DATA,
            checkpoints=get_own_checkpoints(),
        output:
            model=BASE,
            metrics=BASE_METRICS,
        log:
            log_path(BASE),
        conda:
            "../envs/pdiff.yaml"
        threads: workflow.cores
        resources:
            gpu=1,
        params:
            cfg=get_cfg("data", "network", "checkpoints", "precision"),
        script:
            "../workflow_scripts/import_base.py"

else:

    rule train_base:
        """The task network, trained from scratch (or from pretrained weights)."""
        input:
            data=DATA,
        output:
            model=BASE,
            metrics=BASE_METRICS,
        log:
            log_path(BASE),
        benchmark:
            bench_path(BASE)
        conda:
            "../envs/pdiff.yaml"
        threads: workflow.cores
        resources:
            gpu=1,
        params:
            cfg=get_cfg("data", "network", "train_base", "precision"),
        script:
            "../workflow_scripts/train_base.py"

    use rule train_base as train_run_base with:
        output:
            model=RUN_BASE,
            metrics=RUN_BASE_METRICS,
        log:
            log_path(RUN_BASE),
        benchmark:
            bench_path(RUN_BASE)
