if config["checkpoints"]["dir"]:

    rule import_checkpoints:
        """Your own checkpoints as the sources: the first K files of checkpoints.dir."""
        input:
            data=DATA,
            base=BASE,
            checkpoints=get_own_checkpoints(),
        output:
            checkpoints=directory(CHECKPOINTS),
            table=CHECKPOINT_TABLE,
            predictions=SOURCE_PREDICTIONS,
        log:
            log_path(CHECKPOINT_TABLE),
        benchmark:
            bench_path(CHECKPOINT_TABLE)
        conda:
            "../envs/pdiff.yaml"
        threads: workflow.cores
        resources:
            gpu=1,
        params:
            cfg=get_cfg("data", "network", "locations", "checkpoints", "evaluate", "precision"),
        script:
            "../workflow_scripts/import_checkpoints.py"

else:

    rule collect_checkpoints:
        """K checkpoints of the subset, one per training step (a larger K continues a smaller;
        with collect.runs R, K/R from each run's base)."""
        input:
            unpack(get_earlier_collection),
            unpack(get_run_bases),
            data=DATA,
            base=BASE,
        output:
            checkpoints=directory(CHECKPOINTS),
            table=CHECKPOINT_TABLE,
            predictions=SOURCE_PREDICTIONS,
            state=COLLECT_STATE,
        log:
            log_path(CHECKPOINT_TABLE),
        benchmark:
            bench_path(CHECKPOINT_TABLE)
        conda:
            "../envs/pdiff.yaml"
        threads: workflow.cores
        resources:
            gpu=1,
        params:
            cfg=get_cfg("data", "network", "locations", "collect", "evaluate", "precision"),
        script:
            "../workflow_scripts/collect_checkpoints.py"
