"""Rule import_checkpoints (your own checkpoints): the first K files of checkpoints.dir as
the sources, checked for matching names and shapes, the subset kept and evaluated."""

from pdiff import data, runtime
from pdiff.checkpoints import first_checkpoints, subset_sources
from pdiff.io import load_tensors
from pdiff.networks import configured_network
from pdiff.subset import ParameterSubset
from pdiff.training import save_sources

with runtime.output_to(snakemake.log[0]):
    cfg, i, o, w = snakemake.params.cfg, snakemake.input, snakemake.output, snakemake.wildcards
    device = runtime.setup(0, snakemake.threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("import_checkpoints").info
    files, k = first_checkpoints(cfg["checkpoints"]["dir"], int(w.k)), int(w.k)
    splits = data.load_splits(i.data)
    model = configured_network(cfg, splits, i.base)
    subset = ParameterSubset.from_model(model, cfg["locations"][w.location])
    log(f"subset '{w.location}': {len(subset.names)} tensors, D={subset.dim}")
    differ = []
    sources = subset_sources(files, subset, w.location, load_tensors(i.base), differ)
    e = cfg["evaluate"]
    save_sources(
        model,
        subset,
        splits,
        sources,
        k,
        o.checkpoints,
        o.table,
        o.predictions,
        device=device,
        origins=[f.name for f in files],
        eval_batch=e["batch_size"],
        eval_sets=e["sets_per_batch"],
        precision=cfg["precision"],
        log=log,
    )
    if differ:
        # p-diff assumes everything outside the subset is shared; say so rather than guess.
        log(
            f"WARNING: {len(differ)} of {k} checkpoints (e.g. {differ[:3]}) differ from the "
            f"base weights outside the subset '{w.location}'; every generated and evaluated "
            f"model uses the base's values there"
        )
