"""Rules train_ae, train_own_ae, train_vae, train_own_vae: the parameter autoencoder of the
variant's ae settings (noise on input and latent) after its overfit check; with a kl_weight,
the same autoencoder as a VAE for the vae_prior control."""

from pdiff import data, runtime
from pdiff.autoencoder import fit_autoencoder
from pdiff.evaluation import Scorer, rebuilt_index
from pdiff.io import save_json
from pdiff.matrix import ParameterMatrix
from pdiff.networks import configured_network

with runtime.output_to(snakemake.log[0], resumes=snakemake.output.ae):
    p, i, o, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
    cfg = p.cfg
    device = runtime.setup(int(w.seed), snakemake.threads, cfg["device"])
    runtime.hold_if_asked("train_ae")
    matrix = ParameterMatrix.load(i.matrix, i.layout)
    splits = data.load_splits(i.data)
    model = configured_network(cfg, splits, i.base)
    e = cfg["evaluate"]
    val_accuracy = Scorer(
        model,
        matrix.subset,
        splits.images("val"),
        splits.labels("val"),
        device,
        e["batch_size"],
        e["sets_per_batch"],
    )
    log = runtime.get_logger("train_vae" if p.kl_weight > 0 else "train_ae").info
    inputs = {"sources": runtime.tensor_digest(matrix.rows), "seed": int(w.seed)}
    settings = {"ae": p.ae, "noise": w.noise, "kl_weight": p.kl_weight, **inputs}
    resume = runtime.Resume(o.ae, settings, log)
    ae, metrics = fit_autoencoder(
        matrix,
        p.ae,
        w.noise,
        val_accuracy,
        rebuilt=rebuilt_index(matrix.k, e["rebuilt"]),
        kl_weight=p.kl_weight,
        seed=int(w.seed),
        device=device,
        log=log,
        resume=resume,
    )
    ae.save(o.ae)
    save_json(metrics, o.metrics)
    resume.done()
