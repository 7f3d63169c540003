"""One function per pipeline stage: artifacts in, artifacts out. The rules' scripts call these."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from pdiff import data as data_mod
from pdiff import runtime, training
from pdiff.autoencoder import (
    AutoencoderCheckError,
    autoencoder_config,
    build_autoencoder,
    overfit_check,
    train_autoencoder,
)
from pdiff.evaluation import (
    accuracy,
    evaluate_groups,
    features,
    finite_rows,
    predict_sets,
    rebuilt_index,
    split_network,
    weight_average,
)
from pdiff.generator import (
    SCHEDULE_KEYS,
    draw,
    load_autoencoder,
    load_ldm,
    parse_sampler,
    scheduler,
)
from pdiff.io import (
    ArtifactError,
    atomic_path,
    load_json,
    load_table,
    load_tensors,
    save_json,
    save_module,
    save_table,
    save_tensors,
)
from pdiff.networks import configured_network
from pdiff.subset import ParameterSubset, normalization_stats

# What every evaluation table holds (a row per model).
EVALUATION_COLUMNS = ("group", "index", "finite", "val_acc", "test_acc")


def _subset(cfg: dict, model, location: str) -> ParameterSubset:
    return ParameterSubset.from_model(model, cfg["locations"][location])


def prepare_data(cfg: dict, *, out: str) -> None:
    """Stage prepare_data: train/val/test split of the configured data set."""
    d = cfg["data"]
    data_mod.prepare_data(
        d["name"],
        out,
        root=d["root"],
        cache=d["cache"],
        download=d["download"],
        train_size=d["train_size"],
        val_size=d["val_size"],
        test_size=d["test_size"],
        seed=d["split_seed"],
        image_size=d["image_size"],
        num_classes=d["num_classes"],
        checksums=d["checksums"],
    )


def train_base(
    cfg: dict,
    *,
    data_path: str,
    seed: int,
    out_model: str,
    out_metrics: str,
    run: int = 0,
    threads: int = 1,
) -> None:
    """Stage train_base: the whole network, trained normally; run > 0: the base of another
    independent run of this seed (collect.runs; its seed pdiff.runs.run_seed)."""
    from pdiff.runs import run_seed

    seed = run_seed(seed, run)
    device = runtime.setup(seed, threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("train_base").info
    if run:
        log(f"run {run} of collect.runs: seed {seed}")
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits)
    t = cfg["train_base"]
    training.train_base(
        model,
        splits,
        out_model,
        out_metrics,
        epochs=t["epochs"],
        batch_size=t["batch_size"],
        lr=t["lr"],
        weight_decay=t["weight_decay"],
        optimizer=t["optimizer"],
        seed=seed,
        device=device,
        precision=cfg["precision"],
        log=log,
    )


def collect_checkpoints(
    cfg: dict,
    *,
    data_path: str,
    base_path: str,
    location: str,
    k: int,
    seed: int,
    out_dir: str,
    out_csv: str,
    out_predictions: str,
    out_state: str,
    earlier: dict | None = None,
    run_bases: list[str] = (),
    why: str = "",
    threads: int = 1,
) -> None:
    """Stage collect_checkpoints: K checkpoints of the subset, one per optimizer step; with
    `earlier` (a shorter collection of the same run) its checkpoints are kept and training
    continues after them; with `run_bases` (the bases of runs 1 to R-1 of collect.runs),
    K/R steps from each run's base, run 0's being `base_path`."""
    from pdiff.runs import run_seed

    device = runtime.setup(seed, threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("collect").info
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits, base_path)
    subset = _subset(cfg, model, location)
    c = cfg["collect"]
    log(f"subset '{location}': {len(subset.names)} tensors, D={subset.dim}: {subset.names}")
    log(f"collecting {k} checkpoints ({why or 'collect.k'})")
    e = cfg["evaluate"]
    if run_bases:
        log(f"from {len(run_bases) + 1} independent runs, {k // (len(run_bases) + 1)} each")
        training.collect_runs(
            [model] + [configured_network(cfg, splits, b) for b in run_bases],
            subset,
            splits,
            out_dir,
            out_csv,
            out_predictions,
            out_state,
            k=k,
            seeds=[run_seed(seed, r) for r in range(len(run_bases) + 1)],
            batch_size=c["batch_size"],
            lr=c["lr"],
            weight_decay=c["weight_decay"],
            optimizer=c["optimizer"],
            device=device,
            eval_batch=e["batch_size"],
            eval_sets=e["sets_per_batch"],
            precision=cfg["precision"],
            log=log,
        )
        return
    training.collect_checkpoints(
        model,
        subset,
        splits,
        out_dir,
        out_csv,
        out_predictions,
        out_state,
        k=k,
        batch_size=c["batch_size"],
        lr=c["lr"],
        weight_decay=c["weight_decay"],
        optimizer=c["optimizer"],
        seed=seed,
        device=device,
        eval_batch=cfg["evaluate"]["batch_size"],
        eval_sets=cfg["evaluate"]["sets_per_batch"],
        precision=cfg["precision"],
        earlier=earlier,
        log=log,
    )


def import_base(
    cfg: dict, *, data_path: str, out_model: str, out_metrics: str, threads: int = 1
) -> None:
    """Stage import_base (own checkpoints): the network's full weights, from checkpoints.base
    or else the first checkpoint; everything outside the generated subset comes from here."""
    from pdiff.checkpoints import list_checkpoints, load_checkpoint
    from pdiff.training import evaluate_model, model_state

    device = runtime.setup(0, threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("import_base").info
    c = cfg["checkpoints"]
    path = Path(c["base"]) if c["base"] else list_checkpoints(c["dir"])[0]
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits)
    state = load_checkpoint(path)
    missing = [n for n in model.state_dict() if n not in state]
    if missing:
        raise ArtifactError(
            f"{path}: lacks {len(missing)} of the network's tensors ({missing[:5]}...); the "
            f"base weights must be complete: set checkpoints.base to the full weights the "
            f"checkpoints were trained from"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ArtifactError(f"{path}: does not fit network '{cfg['network']['name']}' ({e})") from e
    metrics = {"source": str(path), "num_parameters": sum(p.numel() for p in model.parameters())}
    for split in ("val", "test"):
        metrics[f"{split}_acc"] = evaluate_model(
            model, splits.images(split), splits.labels(split), device, precision=cfg["precision"]
        )
    log(f"base weights from {path}: val {metrics['val_acc']:.2f} test {metrics['test_acc']:.2f}")
    save_tensors(model_state(model), out_model)
    save_json(metrics, out_metrics)


def import_checkpoints(
    cfg: dict,
    *,
    data_path: str,
    base_path: str,
    location: str,
    k: int,
    out_dir: str,
    out_csv: str,
    out_predictions: str,
    threads: int = 1,
) -> None:
    """Stage import_checkpoints (own checkpoints): the first K files of checkpoints.dir as
    the sources, checked for matching names and shapes, the subset kept and evaluated."""
    from pdiff.checkpoints import check_like, differing_outside, list_checkpoints, load_checkpoint
    from pdiff.training import save_sources

    device = runtime.setup(0, threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("import_checkpoints").info
    files = list_checkpoints(cfg["checkpoints"]["dir"])
    if len(files) < k:
        raise ArtifactError(
            f"{cfg['checkpoints']['dir']}: {len(files)} checkpoints, but K={k} "
            f"is asked for; lower collect.k (and ablations.k) to at most "
            f"{len(files)}"
        )
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits, base_path)
    subset = _subset(cfg, model, location)
    base = load_tensors(base_path)
    log(f"subset '{location}': {len(subset.names)} tensors, D={subset.dim}")
    first = load_checkpoint(files[0])
    differ = []

    def sources():
        for f in files[:k]:
            state = first if f == files[0] else load_checkpoint(f)
            check_like(f, state, first, files[0])
            try:
                subset.flatten(state)
            except (KeyError, ValueError) as e:
                raise ArtifactError(f"{f}: does not match the subset '{location}' ({e})") from e
            if differing_outside(state, base, subset.names):
                differ.append(f.name)
            yield {n: state[n] for n in subset.names}

    save_sources(
        model,
        subset,
        splits,
        sources(),
        k,
        out_dir,
        out_csv,
        out_predictions,
        device=device,
        origins=[f.name for f in files[:k]],
        eval_batch=cfg["evaluate"]["batch_size"],
        eval_sets=cfg["evaluate"]["sets_per_batch"],
        precision=cfg["precision"],
        log=log,
    )
    if differ:
        # p-diff assumes everything outside the subset is shared; say so rather than guess.
        log(
            f"WARNING: {len(differ)} of {k} checkpoints (e.g. {differ[:3]}) differ from the "
            f"base weights outside the subset '{location}'; every generated and evaluated "
            f"model uses the base's values there"
        )


def param_matrix(
    cfg: dict,
    *,
    data_path: str,
    base_path: str,
    ckpt_dir: str,
    location: str,
    k: int,
    out_matrix: str,
    out_layout: str,
    table_path: str | None = None,
    align: str = "none",
) -> None:
    """Stage param_matrix: the first k checkpoints as a K x D matrix, its statistics and
    layout. Sources from several runs (a 'run' column in the collection's table): the first
    K/R of each run, the layout recording each row's run; with align 'weights', each run's
    rows permuted onto run 0's (pdiff.alignment)."""
    log = runtime.get_logger("param_matrix").info
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits, base_path)
    subset = _subset(cfg, model, location)
    files = sorted(Path(ckpt_dir).glob("*.safetensors"))
    if len(files) < k:
        raise ArtifactError(f"{ckpt_dir}: {len(files)} checkpoints, K={k} asked for")
    table = load_table(table_path, ("checkpoint",)) if table_path else None
    runs = None
    if table is not None and "run" in table and table["run"].nunique() > 1:
        per_run = k // table["run"].nunique()
        chosen = table.groupby("run", sort=True).head(per_run)
        files = [Path(ckpt_dir) / name for name in chosen["checkpoint"]]
        runs = torch.tensor(chosen["run"].to_numpy())
    else:
        files = files[:k]
    rows = []
    for f in files:
        try:
            rows.append(subset.flatten(load_tensors(f)))
        except (KeyError, ValueError) as e:
            raise ArtifactError(f"{f}: does not match the subset '{location}' ({e})") from e
    matrix = torch.stack(rows)
    extra = {}
    if runs is not None:
        if align == "weights":
            from pdiff.alignment import align_rows

            before = matrix
            matrix = align_rows(model, subset, matrix, runs)
            log(
                "aligned onto run 0: mean distance between run means "
                f"{_run_spread(before, runs):.3f} before, {_run_spread(matrix, runs):.3f} after"
            )
        extra = {"runs": runs.tolist(), "align": align}
    mean, std = normalization_stats(matrix, subset)
    save_tensors({"matrix": matrix, "mean": mean, "std": std}, out_matrix)
    save_json(
        {
            **subset.to_dict(),
            "location": location,
            "k": k,
            "checkpoints": [f.name for f in files],
            **extra,
        },
        out_layout,
    )


def _run_spread(matrix: torch.Tensor, runs: torch.Tensor) -> float:
    """Mean L2 distance between the runs' mean rows."""
    means = torch.stack([matrix[runs == r].mean(0) for r in runs.unique()])
    d = torch.cdist(means, means)
    return float(d.sum() / max(len(means) * (len(means) - 1), 1))


def _normalized(matrix_path: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    t = load_tensors(matrix_path)
    return (t["matrix"] - t["mean"]) / t["std"], t["mean"], t["std"]


def noise_sigmas(a: dict, noise: str) -> tuple[float, float]:
    """(sigma_v, sigma_z) of a noise wildcard: none | input | latent | both, with an optional
    -xF that scales both (both-x10: the official ablation's ten times larger noises)."""
    kind, _, factor = noise.partition("-x")
    scale = float(factor) if factor else 1.0
    sigma_v = a["input_noise"] * scale if kind in ("input", "both") else 0.0
    sigma_z = a["latent_noise"] * scale if kind in ("latent", "both") else 0.0
    return sigma_v, sigma_z


def train_ae(
    cfg: dict,
    *,
    ae_settings: dict,
    kl_weight: float = 0.0,
    data_path: str,
    base_path: str,
    matrix_path: str,
    layout_path: str,
    noise: str,
    seed: int,
    out_ae: str,
    out_metrics: str,
    threads: int = 1,
) -> None:
    """Stage train_ae: the parameter autoencoder of `ae_settings` (the ae section, or a
    denoiser's own), logging accuracy of rebuilt sources; with a `kl_weight`, the same
    autoencoder as a VAE (controls.vae_kl_weight), for the vae_prior control."""
    variational = kl_weight > 0
    device = runtime.setup(seed, threads, cfg["device"])
    runtime.hold_if_asked("train_ae")
    log = runtime.get_logger("train_vae" if variational else "train_ae").info
    a = ae_settings
    sigma_v, sigma_z = noise_sigmas(a, noise)
    rows, mean, std = _normalized(matrix_path)
    subset = ParameterSubset.from_dict(load_json(layout_path))
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits, base_path).eval()
    x_val, y_val = splits.images("val"), splits.labels("val")
    e = cfg["evaluate"]
    prefix, _ = split_network(model, subset)
    feats = features(prefix, x_val, e["batch_size"], device)

    def val_accuracy(params):
        return accuracy(
            predict_sets(
                model,
                subset,
                params,
                x_val,
                device,
                e["batch_size"],
                e["sets_per_batch"],
                prefix_features=feats,
            ),
            y_val,
        )

    # The same evenly spaced sources as the evaluate stage's "rebuilt" group.
    picked = rebuilt_index(len(rows), e["rebuilt"])
    sources = rows[picked] * std + mean
    source_acc = val_accuracy(sources).mean().item()
    log(f"sources: mean val acc {source_acc:.3f} ({len(picked)} evenly spaced)")

    def rebuilt_accuracy(ae):
        with torch.no_grad():
            rebuilt = ae(rows[picked].to(device)).cpu() * std + mean
        return {
            "rebuilt_val_acc_mean": val_accuracy(rebuilt).mean().item(),
            "source_val_acc_mean": source_acc,
            "rebuilt_max_abs_error": (rebuilt - sources).abs().max().item(),
        }

    conf = autoencoder_config(a, subset, variational)
    check = {}
    if a["overfit_check"] != "off" and not variational:
        check = overfit_check(
            conf,
            rows[:1],
            lambda row: val_accuracy(row * std + mean).item(),
            steps=a["overfit_check_steps"],
            lr=a["lr"],
            tolerance=a["overfit_tolerance"],
            seed=seed,
            device=device,
        )
        log(
            f"overfit check: one source rebuilt after {check['steps']} steps: val acc "
            f"{check['rebuilt_val_acc']:.2f} vs {check['source_val_acc']:.2f}"
        )
        if not check["passed"]:
            msg = (
                f"the autoencoder cannot overfit a single checkpoint: trained on source 0 "
                f"alone for {check['steps']} steps, its rebuilt copy scores "
                f"{check['rebuilt_val_acc']:.2f}% validation accuracy against the source's "
                f"{check['source_val_acc']:.2f}% (tolerance {a['overfit_tolerance']} points). "
                f"Generated models can be no better than what the AE rebuilds. Fix: raise "
                f"ae.overfit_check_steps or ae.lr, widen ae.channels or the latent, or use "
                f"ae.kind: chunked for a large subset (ae.overfit_check: warn only warns)."
            )
            if a["overfit_check"] == "error":
                raise AutoencoderCheckError(msg)
            log("WARNING: " + msg)
    ae = build_autoencoder(conf)
    log(
        f"noise '{noise}': sigma_v={sigma_v} sigma_z={sigma_z}"
        f"{' x batch latent std' if a['relative_latent_noise'] else ''}; D={subset.dim}, "
        f"{a['kind']} AE with {sum(p.numel() for p in ae.parameters())} parameters, "
        f"latent {tuple(ae.latent_shape)}"
    )
    history = train_autoencoder(
        ae,
        rows,
        steps=a["steps"],
        batch_size=a["batch_size"],
        lr=a["lr"],
        weight_decay=a["weight_decay"],
        input_noise=sigma_v,
        latent_noise=sigma_z,
        seed=seed,
        device=device,
        lr_schedule=a["lr_schedule"],
        relative_latent_noise=a["relative_latent_noise"],
        kl_weight=kl_weight,
        precision=a["precision"],
        log=log,
        log_every=a["log_every"],
        eval_every=a["eval_every"],
        on_eval=rebuilt_accuracy,
    )
    save_module(ae, conf, out_ae)
    save_json(
        {
            "noise": noise,
            "input_noise": sigma_v,
            "latent_noise": sigma_z,
            "overfit_check": check,
            "history": history,
        },
        out_metrics,
    )


def train_ldm(
    cfg: dict,
    *,
    ldm: dict,
    matrix_path: str,
    ae_path: str,
    seed: int,
    out_ldm: str,
    out_metrics: str,
    threads: int = 1,
) -> None:
    """Stage train_ldm: the latent DDPM of one denoiser's ldm settings (config.ldm_settings)
    on the encoded (noise-free) source latents."""
    # diffusers (and torch._dynamo, which it loads) take seconds to import: only the two
    # stages that use them do.
    from pdiff.denoiser import build_denoiser, denoiser_config
    from pdiff.diffusion import latent_stats, train_denoiser

    device = runtime.setup(seed, threads, cfg["device"])
    log = runtime.get_logger("train_ldm").info
    rows, _, _ = _normalized(matrix_path)
    ae = load_autoencoder(ae_path).to(device)
    with torch.no_grad():
        latents = ae.encode(rows.to(device)).cpu()
    m = ldm
    mean, std = latent_stats(latents, m["latent_norm"])
    spread = (latents - latents.mean(0)).std().item()
    log(
        f"latents {tuple(latents.shape)}: mean {latents.mean():.4f} std {latents.std():.4f}, "
        f"std across sources {spread:.4f}; normalized '{m['latent_norm']}'"
    )
    conf = denoiser_config(m, tuple(latents.shape[1:]))
    denoiser = build_denoiser(conf)
    log(f"{m['kind']} denoiser with {sum(p.numel() for p in denoiser.parameters())} parameters")
    denoiser, history = train_denoiser(
        denoiser,
        (latents - mean) / std,
        scheduler(m),
        steps=m["steps"],
        batch_size=m["batch_size"],
        lr=m["lr"],
        weight_decay=m["weight_decay"],
        seed=seed,
        device=device,
        lr_schedule=m["lr_schedule"],
        warmup_steps=m["warmup_steps"],
        ema_decay=m["ema_decay"],
        precision=m["precision"],
        log=log,
        log_every=m["log_every"],
    )
    state = {k: v.cpu() for k, v in denoiser.state_dict().items()}
    save_tensors(
        {**state, "latent_mean": mean, "latent_std": std},
        out_ldm,
        metadata={
            "config": {
                **conf,
                "latent_shape": list(latents.shape[1:]),
                "schedule": {k: m[k] for k in SCHEDULE_KEYS},
            }
        },
    )
    save_json(
        {
            "latent_mean": latents.mean().item(),
            "latent_std": latents.std().item(),
            "latent_std_across_sources": spread,
            "history": history,
        },
        out_metrics,
    )


def generate(
    cfg: dict,
    *,
    matrix_path: str,
    ae_path: str,
    ldm_path: str,
    sampler: str,
    seed: int,
    out: str,
    threads: int = 1,
) -> None:
    """Stage generate: N latents sampled, decoded and de-normalized into parameter rows."""
    # The sampler's module (diffusers) is imported before the stage's work starts, so that
    # the start-up it logs counts it.
    import pdiff.diffusion  # noqa: F401

    device = runtime.setup(seed, threads, cfg["device"])
    log = runtime.get_logger("generate").info
    kind, steps = parse_sampler(sampler)
    _, mean, std = _normalized(matrix_path)
    n = cfg["generate"]["n"]
    params, latents = draw(
        load_autoencoder(ae_path),
        load_ldm(ldm_path),
        mean,
        std,
        n=n,
        seed=seed,
        sampler=sampler,
        device=device,
    )
    bad = int((~finite_rows(params)).sum())
    log(f"{n} sets sampled with {kind}, {steps} steps; {bad} hold NaN or Inf")
    save_tensors(
        {"params": params, "latents": latents}, out, metadata={"sampler": kind, "steps": steps}
    )


def evaluate(
    cfg: dict,
    *,
    data_path: str,
    base_path: str,
    matrix_path: str,
    layout_path: str,
    checkpoint_csv: str,
    source_predictions: str,
    ae_path: str,
    generated_path: str,
    seed: int,
    out_csv: str,
    out_predictions: str,
    out_controls: str,
    vae_path: str | None = None,
    threads: int = 1,
) -> None:
    """Stage evaluate: accuracy and test predictions of the K sources (from collection), of
    their weight average, of sources passed through the AE ("rebuilt": what the decoder can
    reach at best), of every generated set and of the controls without diffusion (latents
    from fits to the sources' latents, decoded by the same AE; pdiff.controls)."""
    from pdiff.controls import control_sets

    device = runtime.setup(0, threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("evaluate").info
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits, base_path)
    layout = load_json(layout_path)
    subset = ParameterSubset.from_dict(layout)
    t = load_tensors(matrix_path)
    sources = t["matrix"]
    k = len(sources)
    e = cfg["evaluate"]
    picked = rebuilt_index(k, e["rebuilt"])
    normalized = (sources - t["mean"]) / t["std"]
    ae = load_autoencoder(ae_path)
    with torch.no_grad():
        rebuilt = ae(normalized[picked]) * t["std"] + t["mean"]
    c = cfg["controls"]
    # The VAE baseline mirrors the official autoencoder; other variants go without it.
    kinds = [kind for kind in c["kinds"] if kind != "vae_prior" or vae_path]
    controls = control_sets(
        ae,
        normalized,
        kinds,
        cfg["generate"]["n"],
        seed,
        vae=load_autoencoder(vae_path) if vae_path else None,
    )
    runs = torch.tensor(layout["runs"]) if "runs" in layout else None
    # Sources from several runs: each run's own weight average beside the one across runs.
    per_run = (
        {f"average_run{r}": weight_average(sources[runs == r]) for r in runs.unique().tolist()}
        if runs is not None
        else {}
    )
    groups = {
        "average": weight_average(sources),
        **per_run,
        "rebuilt": rebuilt,
        "generated": load_tensors(generated_path, check_finite=False)["params"],
        **{kind: rows * t["std"] + t["mean"] for kind, (rows, _) in controls.items()},
    }
    save_tensors(
        {
            **{f"{kind}_params": groups[kind] for kind in controls},
            **{f"{kind}_latents": z for kind, (_, z) in controls.items()},
        },
        out_controls,
    )
    res = evaluate_groups(
        model,
        subset,
        groups,
        {s: (splits.images(s), splits.labels(s)) for s in ("val", "test")},
        device,
        e["batch_size"],
        e["sets_per_batch"],
        cfg["precision"],
    )
    # The matrix's rows are these checkpoints of the collection (the first K of one run, or
    # the first K/R of each run).
    collection = load_table(checkpoint_csv, ("checkpoint", "val_acc", "test_acc"))
    where = pd.Index(collection["checkpoint"]).get_indexer(layout["checkpoints"])
    if (where < 0).any():
        raise ArtifactError(
            f"{layout_path}: checkpoints missing from {checkpoint_csv}; rerun param_matrix"
        )
    ckpts = collection.iloc[where].reset_index(drop=True)
    src_preds = load_tensors(source_predictions)["test_predictions"][torch.as_tensor(where)].long()
    frames = [
        pd.DataFrame(
            {
                "group": "source",
                "index": range(k),
                "finite": True,
                "val_acc": ckpts.val_acc,
                "test_acc": ckpts.test_acc,
            }
        )
    ]
    frames += [
        pd.DataFrame(
            {
                "group": g,
                "index": picked.tolist() if g == "rebuilt" else range(len(rows)),
                "finite": finite_rows(rows).tolist(),
                "val_acc": res[g, "val"][0].tolist(),
                "test_acc": res[g, "test"][0].tolist(),
            }
        )
        for g, rows in groups.items()
    ]
    if runs is not None:
        from pdiff.runs import nearest_runs

        # Each model's nearest run, by normalized parameters and by shared mistakes.
        labels = splits.labels("test")
        frames[0] = frames[0].join(
            nearest_runs(normalized, src_preds, normalized, src_preds, runs, labels)
        )
        frames[1:] = [
            frame.join(
                nearest_runs(
                    (rows - t["mean"]) / t["std"],
                    res[g, "test"][1],
                    normalized,
                    src_preds,
                    runs,
                    labels,
                )
            )
            for frame, (g, rows) in zip(frames[1:], groups.items(), strict=True)
        ]
    table = pd.concat(frames, ignore_index=True)
    save_table(table, out_csv)
    save_tensors(
        {
            "source_predictions": src_preds,
            "rebuilt_sources": picked,
            **{f"{g}_predictions": res[g, "test"][1] for g in groups},
            "test_labels": splits.labels("test"),
        },
        out_predictions,
    )
    for group, rows in table.groupby("group", sort=False):
        log(
            f"{group}: n={len(rows)} test acc max {rows.test_acc.max():.2f} "
            f"mean {rows.test_acc.mean():.2f}"
        )


def nearest_run(evaluation_csv: str, *, out_md: str, out_png: str, title: str = "") -> None:
    """Stage nearest_run (sources from several runs): per run, its sources, its own weight
    average, and how many generated and control sets land nearest to it and how well they do
    (pdiff.runs.run_table), with where each group lands (pdiff.runs.landing); a scatter of
    accuracy against the distance to the nearest source, coloured by run."""
    from pdiff.plots import nearest_run_scatter
    from pdiff.reporting import control_groups
    from pdiff.runs import BETWEEN_POINTS, NEAR_POINTS, landing, run_table

    evals = load_table(evaluation_csv, (*EVALUATION_COLUMNS, "run", "run_distance"))
    groups = ["generated", *control_groups(evals)]
    lands = pd.DataFrame([{"group": g, **landing(evals, g)} for g in groups]).rename(
        columns={
            "near": f"% within {NEAR_POINTS:g} points of nearest run's mean",
            "between": f"% more than {BETWEEN_POINTS:g} points below every run",
            "agree": "% same nearest run by parameters and predictions",
        }
    )
    text = (
        "Each run's sources and own weight average; per group, the sets whose nearest source "
        "(by normalized parameters) is of that run: how many (_n) and their mean test "
        "accuracy (_mean).\n\n"
        + run_table(evals, groups).to_markdown(index=False, floatfmt=".2f")
        + "\n\nWhere each group's sets land among the runs:\n\n"
        + lands.to_markdown(index=False, floatfmt=".1f")
        + "\n"
    )
    with atomic_path(out_md) as tmp:
        tmp.write_text(text)
    nearest_run_scatter(evals, title or "generated models among the runs", out_png)


def export_models(
    cfg: dict,
    *,
    data_path: str,
    base_path: str,
    matrix_path: str,
    layout_path: str,
    generated_path: str,
    evaluation_csv: str,
    predictions_path: str,
    provenance: dict,
    out_dir: str,
) -> None:
    """Stage export_models: the best generated sets on validation (or all) as complete
    networks with their metadata, a models.csv and a model card (see pdiff.export)."""
    from pdiff.export import choose, write_models
    from pdiff.generator import network_spec

    log = runtime.get_logger("export_models").info
    x = cfg["export"]
    chosen = choose(load_table(evaluation_csv, EVALUATION_COLUMNS), x["top"], x["all"])
    subset = ParameterSubset.from_dict(load_json(layout_path))
    p = load_tensors(predictions_path)
    table = write_models(
        load_tensors(generated_path, check_finite=False)["params"],
        chosen,
        load_tensors(base_path),
        subset,
        load_tensors(matrix_path)["matrix"],
        p["generated_predictions"],
        p["source_predictions"],
        p["test_labels"],
        network_spec(cfg, data_path),
        {**provenance, "subset_dim": subset.dim, "config": cfg},
        out_dir,
    )
    log(
        f"{len(table)} models exported to {out_dir}: test acc "
        f"{', '.join(f'{a:.2f}' for a in table.test_acc)}"
    )


def summarize(
    eval_csvs: dict[int, str],
    *,
    ae_metrics: dict[int, str],
    ldm_metrics: dict[int, str],
    out_csv: str,
    out_md: str,
    variant: str = "",
    resamples: int = 2000,
) -> tuple[pd.DataFrame, list[str]]:
    """Stage summarize: the main table over seeds (see pdiff.reporting), headed in the
    Markdown by the variant it is of, and below it a warning for every seed on which the
    generator lost to its sources and, per seed, the verdict against the controls."""
    from pdiff.reporting import (
        diagnostics,
        diffusion_verdict,
        generator_verdict,
        main_table,
        runs_verdict,
    )

    evals = {seed: load_table(p, EVALUATION_COLUMNS) for seed, p in eval_csvs.items()}
    table = main_table(
        evals,
        {
            seed: diagnostics(load_json(ae_metrics[seed]), load_json(ldm_metrics[seed]))
            for seed in eval_csvs
        },
    )
    verdict = generator_verdict(evals) + diffusion_verdict(evals, resamples) + runs_verdict(evals)
    save_table(table, out_csv)
    text = (
        (f"Variant {variant}\n\n" if variant else "")
        + table.to_markdown(index=False, floatfmt=".2f")
        + "\n"
    )
    if verdict:
        text += "\n" + "\n\n".join(verdict) + "\n"
    with atomic_path(out_md) as tmp:
        tmp.write_text(text)
    return table, verdict
