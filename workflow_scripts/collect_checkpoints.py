"""Rule collect_checkpoints: K checkpoints of the subset, one per optimizer step, continuing
a shorter collection of the same run when there is one; with collect.runs = R, K/R steps from
each run's base."""

from pdiff import data, runtime, training
from pdiff.networks import configured_network
from pdiff.runs import run_seed
from pdiff.subset import ParameterSubset

with runtime.output_to(snakemake.log[0]):
    cfg, i, o, w = snakemake.params.cfg, snakemake.input, snakemake.output, snakemake.wildcards
    seed, k = int(w.seed), int(w.k)
    device = runtime.setup(seed, snakemake.threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("collect").info
    splits = data.load_splits(i.data)
    models = [configured_network(cfg, splits, b) for b in [i.base, *i.get("run_bases", [])]]
    subset = ParameterSubset.from_model(models[0], cfg["locations"][w.location])
    log(f"subset '{w.location}': {len(subset.names)} tensors, D={subset.dim}: {subset.names}")
    parts = ("checkpoints", "table", "predictions", "state")
    earlier = {p: i[f"earlier_{p}"] for p in parts} if "earlier_table" in i.keys() else None
    log(f"collecting {k} checkpoints" + (f", continuing {i.earlier_table}" if earlier else ""))
    training.collect(
        models,
        subset,
        splits,
        {p: o[p] for p in parts},
        k=k,
        seeds=[run_seed(seed, r) for r in range(len(models))],
        settings=cfg["collect"],
        evaluate=cfg["evaluate"],
        device=device,
        precision=cfg["precision"],
        log=log,
        earlier=earlier,
    )
