"""Evaluating many parameter sets of one network: a shared prefix once, the rest batched."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, vmap

from pdiff.runtime import autocast
from pdiff.subset import ParameterSubset


def split_network(model: nn.Module, subset: ParameterSubset) -> tuple[nn.Module, nn.Module]:
    """Split a Sequential before the first child holding a generated tensor.

    The prefix is identical for every parameter set, so its features are computed once.
    Non-Sequential networks are not split. Suffix tensor names keep the model's names.
    """
    if not isinstance(model, nn.Sequential):
        return nn.Identity(), model
    children = list(model.named_children())
    first = min(
        i
        for i, (name, _) in enumerate(children)
        if any(n.startswith(name + ".") for n in subset.names)
    )
    prefix = nn.Sequential(*[m for _, m in children[:first]])
    suffix = nn.Sequential()
    for name, m in children[first:]:
        suffix.add_module(name, m)
    return prefix, suffix


@torch.no_grad()
def features(module: nn.Module, x, batch_size: int, device: torch.device, precision: str = "fp32"):
    """Run a frozen module over x in batches (eval mode); the result stays on `device`.

    An identity prefix (a network that is not split) returns x itself: the images then stay
    where they are (for a folder-backed data set, undecoded) and are read batch by batch.
    """
    if isinstance(module, nn.Identity):
        return x
    module.eval().to(device)
    with autocast(device, precision):
        return torch.cat(
            [module(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
        )


def resolve_sets_per_batch(sets_per_batch: int | str, device: torch.device) -> int:
    """'auto': one set at a time on a CPU, 25 under vmap on a GPU.

    On a CPU a plain loop over sets (with channels-last images) beats vmap by 2-3x for a
    convolutional suffix and is no slower for a small one (bench/bench.py --only eval); on a
    GPU, batching sets under vmap saves kernel launches.
    """
    if sets_per_batch == "auto":
        return 1 if device.type == "cpu" else 25
    return int(sets_per_batch)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


@torch.no_grad()
def predict_sets(
    model: nn.Module,
    subset: ParameterSubset,
    sets: torch.Tensor,
    x,
    device: torch.device,
    batch_size: int = 1000,
    sets_per_batch: int | str = "auto",
    prefix_features=None,
    precision: str = "fp32",
):
    """Predicted classes (S x N) of the network with each of the S parameter rows put in.

    The prefix runs once; the suffix runs once per set (1 set per batch: a plain loop, 4-D
    tensors channels-last) or under vmap over chunks of sets. Image batches are the outer
    loop, so each is read (and decoded) once for all sets.
    """
    model = model.eval().to(device)
    prefix, suffix = split_network(model, subset)
    feats = (
        prefix_features
        if prefix_features is not None
        else features(prefix, x, batch_size, device, precision)
    )
    base = {k: v for k, v in suffix.named_parameters()}
    base.update(dict(suffix.named_buffers()))
    fixed = {k: v for k, v in base.items() if k not in subset.names}
    if len(sets) == 0:
        return torch.empty(0, len(x), dtype=torch.long)
    per = resolve_sets_per_batch(sets_per_batch, device)
    layout = _channels_last if per == 1 else (lambda t: t)

    def run(params, xb):
        return functional_call(suffix, {**fixed, **params}, (xb,)).argmax(-1)

    if per == 1:
        fixed = {k: layout(v) for k, v in fixed.items()}
        chunks = [
            {k: layout(v) for k, v in subset.unflatten(row.to(device)).items()} for row in sets
        ]

        def run_chunk(params, xb):
            return run(params, xb).unsqueeze(0)
    else:
        run_chunk = vmap(run, in_dims=(0, None))
        chunks = [subset.unflatten(sets[s : s + per].to(device)) for s in range(0, len(sets), per)]
    out = []
    for i in range(0, len(feats), batch_size):
        xb = layout(feats[i : i + batch_size].to(device))  # once per image batch, for all sets
        with autocast(device, precision):
            out.append(torch.cat([run_chunk(chunk, xb) for chunk in chunks]).cpu())
    return torch.cat(out, dim=1)


@torch.no_grad()
def predict_sets_reference(
    model: nn.Module,
    subset: ParameterSubset,
    sets: torch.Tensor,
    x: torch.Tensor,
    device: torch.device,
    batch_size: int = 1000,
):
    """The plain path: load each set into the network and run a full forward. For checks."""
    model = model.eval().to(device)
    original = {n: p.detach().clone() for n, p in model.named_parameters()}
    params = dict(model.named_parameters())
    out = []
    try:
        for row in sets:
            for n, t in subset.unflatten(row.to(device)).items():
                params[n].copy_(t)
            out.append(
                torch.cat(
                    [
                        model(x[i : i + batch_size].to(device)).argmax(-1)
                        for i in range(0, len(x), batch_size)
                    ]
                ).cpu()
            )
    finally:
        for n, p in params.items():
            p.copy_(original[n])
    return torch.stack(out) if out else torch.empty(0, len(x), dtype=torch.long)


def accuracy(preds: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Accuracy in percent of each row of predictions."""
    return (preds == labels.unsqueeze(0)).float().mean(dim=1) * 100.0


def weight_average(matrix: torch.Tensor) -> torch.Tensor:
    """The uniform average of the source rows: one model (the paper's "ensemble")."""
    return matrix.mean(dim=0, keepdim=True)


def finite_rows(sets: torch.Tensor) -> torch.Tensor:
    """Mask of parameter rows without NaN or Inf."""
    return torch.isfinite(sets).all(dim=1)


def evaluate_groups(
    model: nn.Module,
    subset: ParameterSubset,
    groups: dict[str, torch.Tensor],
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    batch_size: int = 1000,
    sets_per_batch: int | str = "auto",
    precision: str = "fp32",
) -> dict:
    """Accuracy on every split and predictions of every group of parameter rows.

    The prefix features are computed once per split for all groups. Rows with NaN or Inf
    get accuracy NaN and predictions -1: they are kept and counted, never dropped.
    Returns {(group, split): (accuracy, predictions)}.
    """
    prefix, _ = split_network(model.eval().to(device), subset)
    out = {}
    for split, (x, y) in splits.items():
        feats = features(prefix, x, batch_size, device, precision)
        for group, rows in groups.items():
            ok = finite_rows(rows)
            preds = torch.full((len(rows), len(y)), -1, dtype=torch.long)
            if ok.any():
                preds[ok] = predict_sets(
                    model,
                    subset,
                    rows[ok],
                    x,
                    device,
                    batch_size,
                    sets_per_batch,
                    prefix_features=feats,
                    precision=precision,
                )
            out[group, split] = (torch.where(ok, accuracy(preds, y), float("nan")), preds)
    return out


def rebuilt_index(k: int, n: int) -> torch.Tensor:
    """Indices of n evenly spaced sources of K (all of them when K <= n): the sources passed
    through the AE to measure what the decoder can reach, at a cost that does not grow with K."""
    return torch.linspace(0, k - 1, min(k, n)).round().long().unique()
