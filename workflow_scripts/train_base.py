"""Rules train_base, train_run_base: the whole network, trained normally; a run > 0 is the
base of another independent run of the seed (collect.runs; its seed pdiff.runs.run_seed)."""

from pdiff import data, runtime, training
from pdiff.io import save_json, save_tensors
from pdiff.networks import configured_network
from pdiff.runs import run_seed

with runtime.output_to(snakemake.log[0]):
    cfg, w, o = snakemake.params.cfg, snakemake.wildcards, snakemake.output
    seed = run_seed(int(w.seed), int(w.get("run", 0)))
    device = runtime.setup(seed, snakemake.threads, cfg["device"], cfg["precision"])
    splits = data.load_splits(snakemake.input.data)
    model = configured_network(cfg, splits)
    log = runtime.get_logger("train_base").info
    state, metrics = training.train_base(
        model,
        splits,
        **cfg["train_base"],
        seed=seed,
        device=device,
        precision=cfg["precision"],
        log=log,
    )
    save_tensors(state, o.model)
    save_json(metrics, o.metrics)
