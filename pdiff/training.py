"""Training the task network: the base model, then K checkpoints of the chosen subset."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from pdiff.data import Splits
from pdiff.evaluation import accuracy, evaluate_groups, features, split_network
from pdiff.io import atomic_dir, load_table, load_tensors, save_table, save_tensors
from pdiff.runtime import autocast
from pdiff.subset import ParameterSubset

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def make_optimizer(name: str, params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """An optimizer by config name (SGD gets momentum 0.9)."""
    extra = {"momentum": 0.9} if name == "sgd" else {}
    return OPTIMIZERS[name](params, lr=lr, weight_decay=weight_decay, **extra)


def batches(n: int, batch_size: int, g: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless shuffled minibatch indices, a fresh permutation each epoch."""
    while True:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            yield perm[i : i + batch_size]


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers of a model, detached, on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    device: torch.device,
    batch_size: int = 1000,
    precision: str = "fp32",
) -> float:
    """Test accuracy (percent) of one model, plain forward."""
    preds = features(model, x, batch_size, device, precision).argmax(-1).cpu()
    return float(accuracy(preds.unsqueeze(0), y)[0])


def train_base(
    model: nn.Module,
    data: Splits,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    optimizer: str,
    seed: int,
    device: torch.device,
    precision: str = "fp32",
    log=print,
) -> tuple[dict[str, torch.Tensor], dict]:
    """Train the whole network; returns its weights and metrics.
    precision bf16: forward and loss under bf16 autocast on CUDA (see runtime.autocast)."""
    g = torch.Generator().manual_seed(seed)
    x, y = data.images("train"), data.labels("train")
    model.to(device).train()
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    steps_per_epoch = max(1, len(x) // batch_size)
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    it = batches(len(x), batch_size, g)
    history = []
    for epoch in range(epochs):
        running = 0.0
        for _ in tqdm(
            range(steps_per_epoch), desc=f"base epoch {epoch + 1}/{epochs}", mininterval=5
        ):
            idx = next(it)
            with autocast(device, precision):
                loss = nn.functional.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item()
        val = evaluate_model(
            model, data.images("val"), data.labels("val"), device, precision=precision
        )
        history.append({"epoch": epoch + 1, "loss": running / steps_per_epoch, "val_acc": val})
        log(f"epoch {epoch + 1}: loss {running / steps_per_epoch:.4f} val acc {val:.2f}")
    metrics = {
        "val_acc": history[-1]["val_acc"],
        "test_acc": evaluate_model(
            model, data.images("test"), data.labels("test"), device, precision=precision
        ),
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "history": history,
    }
    log(f"base model: val {metrics['val_acc']:.2f} test {metrics['test_acc']:.2f}")
    return model_state(model), metrics


def checkpoint_name(i: int) -> str:
    return f"ckpt_{i:04d}.safetensors"


def optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """An optimizer's per-parameter state as flat tensors ('<param index>.<name>'), for a
    safetensors file; its hyperparameters come from the config again on loading."""
    return {
        f"{i}.{name}": value.detach().cpu().clone()
        for i, state in opt.state_dict()["state"].items()
        for name, value in state.items()
        if torch.is_tensor(value)
    }


def optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict:
    """The state dict of `opt` (a fresh optimizer of the same kind) with the per-parameter
    state of `optimizer_tensors`."""
    state = opt.state_dict()
    per_param: dict[int, dict] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        per_param.setdefault(int(index), {})[name] = value
    return {"state": per_param, "param_groups": state["param_groups"]}


def train_subset(
    model: nn.Module,
    subset: ParameterSubset,
    data: Splits,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    optimizer: str,
    seed: int,
    device: torch.device,
    precision: str = "fp32",
    start: int = 0,
    resume: dict | None = None,
    end_state: dict | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """Train only the subset; yield its tensors (on the CPU) after each optimizer step.

    The network stays in eval mode: BatchNorm running statistics are frozen, so everything
    outside the subset stays exactly as it was, as the method requires. With `start` and
    `resume` ({"params": the subset after step `start`, "optimizer": the optimizer's
    `optimizer_tensors` then}) it continues a run at step `start` as if it had never
    stopped; `end_state` receives the optimizer's state after the last step, for a later
    continuation.
    """
    g = torch.Generator().manual_seed(seed)
    model.to(device).eval()
    params = dict(model.named_parameters())
    for name, p in params.items():
        p.requires_grad_(name in subset.names)
    prefix, suffix = split_network(model, subset)
    opt = make_optimizer(optimizer, [params[n] for n in subset.names], lr, weight_decay)
    x, y = data.images("train"), data.labels("train")
    it = batches(len(x), batch_size, g)
    if start:
        for _ in range(start):  # the same minibatches as the uninterrupted run from here on
            next(it)
        with torch.no_grad():
            for n in subset.names:
                params[n].copy_(resume["params"][n])
        opt.load_state_dict(optimizer_state(opt, resume["optimizer"]))
    try:
        for i in range(start, steps):
            idx = next(it)
            with autocast(device, precision):
                with torch.no_grad():
                    h = prefix(x[idx].to(device))
                loss = nn.functional.cross_entropy(suffix(h), y[idx].to(device))
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"subset training diverged at step {i} (loss {loss.item()}); lower collect.lr"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            yield {n: params[n].detach().cpu().clone() for n in subset.names}
        if end_state is not None:
            end_state.update(optimizer_tensors(opt))
    finally:
        for p in params.values():
            p.requires_grad_(False)


def collect_checkpoints(
    model: nn.Module,
    subset: ParameterSubset,
    data: Splits,
    out_dir: str,
    out_csv: str,
    out_predictions: str,
    out_state: str,
    *,
    k: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    optimizer: str,
    seed: int,
    device: torch.device,
    eval_batch: int = 1000,
    eval_sets: int | str = "auto",
    precision: str = "fp32",
    earlier: dict | None = None,
    log=print,
) -> pd.DataFrame:
    """Keep training only the subset, saving it after each of K optimizer steps; write every
    checkpoint's validation and test accuracy (CSV), test predictions, and the optimizer's
    state at the end. With `earlier` (the checkpoints folder, table, predictions and state of
    a shorter collection of the same run), its checkpoints are kept byte for byte and not
    evaluated again, and training continues from its last step."""
    start, resume = 0, None
    if earlier:
        start = len(load_table(earlier["table"], ("val_acc", "test_acc")))
        resume = {
            "params": load_tensors(Path(earlier["checkpoints"]) / checkpoint_name(start - 1)),
            "optimizer": load_tensors(earlier["state"]),
        }
    end: dict[str, torch.Tensor] = {}
    steps = train_subset(
        model,
        subset,
        data,
        steps=k,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        optimizer=optimizer,
        seed=seed,
        device=device,
        precision=precision,
        start=start,
        resume=resume,
        end_state=end,
    )
    df = save_sources(
        model,
        subset,
        data,
        steps,
        k,
        out_dir,
        out_csv,
        out_predictions,
        device=device,
        eval_batch=eval_batch,
        eval_sets=eval_sets,
        precision=precision,
        earlier=earlier,
        log=log,
    )
    save_tensors(end, out_state)
    return df


def collect_runs(
    models: list[nn.Module],
    subset: ParameterSubset,
    data: Splits,
    out_dir: str,
    out_csv: str,
    out_predictions: str,
    out_state: str,
    *,
    k: int,
    seeds: list[int],
    batch_size: int,
    lr: float,
    weight_decay: float,
    optimizer: str,
    device: torch.device,
    eval_batch: int = 1000,
    eval_sets: int | str = "auto",
    precision: str = "fp32",
    log=print,
) -> pd.DataFrame:
    """K checkpoints from R independent runs (pdiff.runs): K/R optimizer steps from each
    run's base network (`models`, trained from `seeds`), saved in run order with each one's
    run; evaluated with run 0's network, which the whole-network rows overwrite entirely
    (pdiff.runs.check_independent_runs). The optimizer state saved is the last run's."""
    from pdiff.runs import check_independent_runs

    for model in models:
        check_independent_runs(model, subset.names)
    per_run = k // len(models)
    end: dict[str, torch.Tensor] = {}

    def steps():
        for model, seed in zip(models, seeds, strict=True):
            end.clear()
            yield from train_subset(
                model,
                subset,
                data,
                steps=per_run,
                batch_size=batch_size,
                lr=lr,
                weight_decay=weight_decay,
                optimizer=optimizer,
                seed=seed,
                device=device,
                precision=precision,
                end_state=end,
            )

    runs = [r for r in range(len(models)) for _ in range(per_run)]
    df = save_sources(
        models[0],
        subset,
        data,
        steps(),
        k,
        out_dir,
        out_csv,
        out_predictions,
        device=device,
        origins=[f"run {r} step {i}" for r in range(len(models)) for i in range(1, per_run + 1)],
        runs=runs,
        eval_batch=eval_batch,
        eval_sets=eval_sets,
        precision=precision,
        log=log,
    )
    for run, rows in df.groupby("run"):
        log(f"run {run}: test acc mean {rows.test_acc.mean():.2f} max {rows.test_acc.max():.2f}")
    save_tensors(end, out_state)
    return df


def save_sources(
    model: nn.Module,
    subset: ParameterSubset,
    data: Splits,
    checkpoints: Iterator[dict[str, torch.Tensor]],
    k: int,
    out_dir: str,
    out_csv: str,
    out_predictions: str,
    *,
    device: torch.device,
    origins: list[str] | None = None,
    runs: list[int] | None = None,
    eval_batch: int = 1000,
    eval_sets: int | str = "auto",
    precision: str = "fp32",
    earlier: dict | None = None,
    log=print,
) -> pd.DataFrame:
    """Save K source checkpoints of the subset (one file each, in order), then evaluate them:
    validation and test accuracy (CSV, with each one's origin, and its run where `runs`
    gives them) and test predictions. With `earlier`, its checkpoints come first, copied,
    with their accuracies and predictions; `checkpoints` yields the rest."""
    kept = load_table(earlier["table"], ("val_acc", "test_acc")) if earlier else pd.DataFrame()
    rows = []
    with atomic_dir(out_dir) as tmp:
        for i in range(len(kept)):
            shutil.copy2(
                Path(earlier["checkpoints"]) / checkpoint_name(i), tmp / checkpoint_name(i)
            )
        new = k - len(kept)
        for i, tensors in enumerate(tqdm(checkpoints, total=new, desc="sources", mininterval=5)):
            save_tensors(tensors, tmp / checkpoint_name(len(kept) + i))
            rows.append(subset.flatten(tensors))
    splits = {s: (data.images(s), data.labels(s)) for s in ("val", "test")}
    res = (
        evaluate_groups(
            model,
            subset,
            {"source": torch.stack(rows)},
            splits,
            device,
            eval_batch,
            eval_sets,
            precision=precision,
        )
        if rows
        else None
    )
    names = [checkpoint_name(i) for i in range(len(kept), k)]
    df = pd.DataFrame(
        {
            "checkpoint": names,
            "origin": (origins or [f"step {i}" for i in range(1, k + 1)])[len(kept) :],
            **({"run": runs[len(kept) :]} if runs else {}),
            "val_acc": res["source", "val"][0].tolist() if res else [],
            "test_acc": res["source", "test"][0].tolist() if res else [],
        }
    )
    df = pd.concat([kept, df], ignore_index=True)
    # Test predictions of every checkpoint, so that no later stage evaluates a source again.
    preds = [res["source", "test"][1].to(torch.int16)] if res else []
    if earlier:
        preds.insert(0, load_tensors(earlier["predictions"])["test_predictions"])
    save_tensors(
        {"test_predictions": torch.cat(preds), "test_labels": data.labels("test")}, out_predictions
    )
    save_table(df, out_csv)
    log(
        f"{k} source checkpoints ({len(kept)} kept from {earlier['checkpoints']}, "
        f"{k - len(kept)} new)"
        if earlier
        else f"{k} source checkpoints"
    )
    log(
        f"test acc min {df.test_acc.min():.2f} mean {df.test_acc.mean():.2f} "
        f"max {df.test_acc.max():.2f}"
    )
    return df


def collect(
    models: list[nn.Module],
    subset: ParameterSubset,
    data: Splits,
    out: dict[str, str],
    *,
    k: int,
    seeds: list[int],
    settings: dict,
    evaluate: dict,
    device: torch.device,
    precision: str = "fp32",
    earlier: dict | None = None,
    log=print,
) -> pd.DataFrame:
    """K source checkpoints of the subset into the collection `out` (its keys: checkpoints, table,
    predictions, state): from one network (collect_checkpoints; `earlier` continues a shorter
    collection) or, given several, K/R from each independent run (collect_runs). `settings`:
    the config's collect section; `evaluate`: its evaluate section."""
    common = {
        "k": k,
        "batch_size": settings["batch_size"],
        "lr": settings["lr"],
        "weight_decay": settings["weight_decay"],
        "optimizer": settings["optimizer"],
        "device": device,
        "eval_batch": evaluate["batch_size"],
        "eval_sets": evaluate["sets_per_batch"],
        "precision": precision,
        "log": log,
    }
    paths = (out["checkpoints"], out["table"], out["predictions"], out["state"])
    if len(models) > 1:
        log(f"from {len(models)} independent runs, {k // len(models)} each")
        return collect_runs(models, subset, data, *paths, seeds=seeds, **common)
    return collect_checkpoints(
        models[0], subset, data, *paths, seed=seeds[0], earlier=earlier, **common
    )
