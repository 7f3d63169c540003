"""Rule evaluate: accuracy and test predictions of the sources, their weight average, sources
rebuilt by the AE, the generated sets and the controls without diffusion."""

from pdiff import data, runtime
from pdiff.autoencoder import NoisyAutoencoder
from pdiff.evaluation import evaluate_variant
from pdiff.io import load_table, load_tensors, save_table, save_tensors
from pdiff.matrix import ParameterMatrix
from pdiff.networks import configured_network

with runtime.output_to(snakemake.log[0]):
    cfg, i, o = snakemake.params.cfg, snakemake.input, snakemake.output
    device = runtime.setup(0, snakemake.threads, cfg["device"], cfg["precision"])
    splits = data.load_splits(i.data)
    model = configured_network(cfg, splits, i.base)
    e, vae = cfg["evaluate"], i.get("vae")
    table, predictions, controls = evaluate_variant(
        model,
        splits,
        ParameterMatrix.load(i.matrix, i.layout),
        NoisyAutoencoder.load(i.ae),
        load_tensors(i.generated, check_finite=False)["params"],
        load_table(i.checkpoint_table, ("checkpoint", "val_acc", "test_acc")),
        load_tensors(i.source_predictions)["test_predictions"],
        # The VAE baseline mirrors the official autoencoder; other variants go without it.
        controls=[c for c in cfg["controls"]["kinds"] if c != "vae_prior" or vae],
        vae=NoisyAutoencoder.load(vae) if vae else None,
        n=cfg["generate"]["n"],
        rebuilt=e["rebuilt"],
        seed=int(snakemake.wildcards.seed),
        device=device,
        batch_size=e["batch_size"],
        sets_per_batch=e["sets_per_batch"],
        precision=cfg["precision"],
        log=runtime.get_logger("evaluate").info,
    )
    save_tensors(controls, o.controls)
    save_table(table, o.table)
    save_tensors(predictions, o.predictions)
