"""Rule import_base (your own checkpoints): the network's full weights, from checkpoints.base
or else the first checkpoint; everything outside the generated subset comes from here."""

from pathlib import Path

from pdiff import data, runtime
from pdiff.checkpoints import base_state, list_checkpoints
from pdiff.io import save_json, save_tensors
from pdiff.networks import configured_network
from pdiff.training import evaluate_model, model_state

with runtime.output_to(snakemake.log[0]):
    cfg, c = snakemake.params.cfg, snakemake.params.cfg["checkpoints"]
    device = runtime.setup(0, snakemake.threads, cfg["device"], cfg["precision"])
    path = Path(c["base"]) if c["base"] else list_checkpoints(c["dir"])[0]
    splits = data.load_splits(snakemake.input.data)
    model = configured_network(cfg, splits)
    base_state(model, path, cfg["network"]["name"])
    metrics = {"source": str(path), "num_parameters": sum(p.numel() for p in model.parameters())}
    for split in ("val", "test"):
        metrics[f"{split}_acc"] = evaluate_model(
            model, splits.images(split), splits.labels(split), device, precision=cfg["precision"]
        )
    runtime.get_logger("import_base").info(
        f"base weights from {path}: val {metrics['val_acc']:.2f} test {metrics['test_acc']:.2f}"
    )
    save_tensors(model_state(model), snakemake.output.model)
    save_json(metrics, snakemake.output.metrics)
