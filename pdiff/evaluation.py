"""Evaluating many parameter sets of one network: a shared prefix once, the rest batched."""

from __future__ import annotations

from collections import OrderedDict

import pandas as pd
import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.nn import functional as F

from pdiff.io import ArtifactError
from pdiff.runtime import autocast
from pdiff.subset import ParameterSubset

# What every evaluation table holds (a row per model).
EVALUATION_COLUMNS = ("group", "index", "finite", "val_acc", "test_acc")


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


class PatchStem:
    """A suffix's first convolution as one matrix product per set over image patches.

    On a CPU, a convolution of few input channels (a grey or RGB image) is the slowest layer
    of a small network: little work per output, the same overhead. Its input patches
    (im2col) are unfolded once per image batch and shared by every parameter set; each set
    then costs a (C_out x C*kh*kw) @ (C*kh*kw x positions) product. A 2x2 max-pool right
    after the convolution is a max over each window's four patches, taken before the bias
    (max(a + b, c + b) = max(a, c) + b exactly). 1.7 to 2.1x faster for the small CNN of
    experiments/fmnist_whole_small_runs.yaml (bench/bench.py --only eval, two runs). Its sums
    run in another order than the convolution's, so logits differ in their last bits and a
    near-tie can change a prediction: 1 of 5.3M on that experiment
    (tests/unit/test_evaluation.py checks that predictions agree).
    """

    def __init__(self, name: str, conv: nn.Conv2d, pool: bool, rest: nn.Sequential):
        self.name, self.conv, self.pool, self.rest = name, conv, pool, rest
        self.own = {f"{name}.{n}" for n, _ in conv.named_parameters()}

    @classmethod
    def of(cls, suffix: nn.Module, max_in_channels: int = 3) -> PatchStem | None:
        """The stem of a Sequential starting with a plain Conv2d of at most `max_in_channels`
        inputs and a kernel of at most 3 x 3 (patches at most 9x the images), else None.
        With 4 or 8 input channels the convolution's own kernel is faster (measured)."""
        children = list(suffix.named_children()) if isinstance(suffix, nn.Sequential) else []
        if len(children) < 2:
            return None
        name, conv = children[0]
        if not (
            type(conv) is nn.Conv2d
            and conv.groups == 1
            and conv.padding_mode == "zeros"
            and not isinstance(conv.padding, str)
            and conv.in_channels <= max_in_channels
            and conv.kernel_size[0] * conv.kernel_size[1] <= 9
        ):
            return None
        pool = _is_2x2_pool(children[1][1])
        return cls(name, conv, pool, nn.Sequential(OrderedDict(children[2 if pool else 1 :])))

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(C*kh*kw, B, H, W) patches, or (C*kh*kw, 4, B, H/2, W/2) by position in the
        pooling window. Kernel values first, so that each set's product is the wide
        (C_out x C*kh*kw) @ (C*kh*kw x positions), 4x faster on a CPU than its transpose."""
        c = self.conv
        h, w = (
            (size + 2 * pad - dil * (k - 1) - 1) // stride + 1
            for size, pad, dil, k, stride in zip(
                x.shape[2:], c.padding, c.dilation, c.kernel_size, c.stride, strict=True
            )
        )
        cols = F.unfold(x, c.kernel_size, c.dilation, c.padding, c.stride).view(len(x), -1, h, w)
        if not self.pool:
            return cols.permute(1, 0, 2, 3).contiguous()
        hp, wp = h // 2, w // 2  # an odd last row or column is dropped, as MaxPool2d does
        cols = cols[:, :, : 2 * hp, : 2 * wp].reshape(len(x), -1, hp, 2, wp, 2)
        return cols.permute(1, 3, 5, 0, 2, 4).reshape(cols.shape[1], 4, len(x), hp, wp)

    def __call__(self, patches: torch.Tensor, params: dict) -> torch.Tensor:
        """The input of the rest of the suffix, (B, C_out, H, W) channels-last."""
        weight = params[f"{self.name}.weight"].reshape(self.conv.out_channels, -1)
        out = (weight @ patches.view(len(patches), -1)).view(len(weight), *patches.shape[1:])
        if self.pool:
            out = out.amax(1)
        if f"{self.name}.bias" in params:
            out = out + params[f"{self.name}.bias"].view(-1, 1, 1, 1)
        return out.permute(1, 2, 3, 0).contiguous().permute(0, 3, 1, 2)


def _is_2x2_pool(m: nn.Module) -> bool:
    def pair(v):
        return tuple(v) if isinstance(v, tuple | list) else (v, v)

    return (
        type(m) is nn.MaxPool2d
        and pair(m.kernel_size) == pair(m.stride) == (2, 2)
        and pair(m.padding) == (0, 0)
        and pair(m.dilation) == (1, 1)
        and not m.ceil_mode
        and not m.return_indices
    )


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
    tensors channels-last, a first convolution of an image through PatchStem) or under vmap
    over chunks of sets. Image batches are the outer loop, so each is read (and decoded, and
    unfolded into patches) once for all sets.
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

    stem = PatchStem.of(suffix) if per == 1 else None
    if per == 1:
        fixed = {k: layout(v) for k, v in fixed.items()}
        chunks = [
            {k: layout(v) for k, v in subset.unflatten(row.to(device)).items()} for row in sets
        ]
        if stem is None:

            def run_chunk(params, xb):
                return run(params, xb).unsqueeze(0)
        else:
            # Each set's tensors split once: the stem's, and the rest's (under its names).
            chunks = [{**fixed, **params} for params in chunks]
            chunks = [(p, {k: v for k, v in p.items() if k not in stem.own}) for p in chunks]

            def run_chunk(chunk, patches):
                params, rest = chunk
                return functional_call(stem.rest, rest, (stem(patches, params),)).argmax(-1)[None]
    else:
        run_chunk = vmap(run, in_dims=(0, None))
        chunks = [subset.unflatten(sets[s : s + per].to(device)) for s in range(0, len(sets), per)]
    out = []
    for i in range(0, len(feats), batch_size):
        xb = layout(feats[i : i + batch_size].to(device))  # once per image batch, for all sets
        if stem is not None:
            xb = stem.patches(xb)
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


class Scorer:
    """Accuracy (percent) of parameter rows of a subset on one split of images; the features
    of the network's shared prefix are computed once, when the scorer is made."""

    def __init__(
        self,
        model: nn.Module,
        subset: ParameterSubset,
        x,
        y: torch.Tensor,
        device: torch.device,
        batch_size: int = 1000,
        sets_per_batch: int | str = "auto",
        precision: str = "fp32",
    ):
        self.model, self.subset, self.x, self.y = model.eval(), subset, x, y
        self.device, self.batch_size, self.sets_per_batch = device, batch_size, sets_per_batch
        self.precision = precision
        prefix, _ = split_network(self.model, subset)
        self.features = features(prefix, x, batch_size, device, precision)

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        preds = predict_sets(
            self.model,
            self.subset,
            rows,
            self.x,
            self.device,
            self.batch_size,
            self.sets_per_batch,
            prefix_features=self.features,
            precision=self.precision,
        )
        return accuracy(preds, self.y)


def evaluate_variant(
    model: nn.Module,
    splits,
    matrix,
    ae,
    generated: torch.Tensor,
    collection: pd.DataFrame,
    source_predictions: torch.Tensor,
    *,
    controls: list[str],
    n: int,
    rebuilt: int,
    seed: int,
    device: torch.device,
    vae=None,
    batch_size: int = 1000,
    sets_per_batch: int | str = "auto",
    precision: str = "fp32",
    log=print,
) -> tuple[pd.DataFrame, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Every group of one variant, scored on validation and test: the K sources (their
    accuracies and test predictions from the `collection`'s table, rows by the matrix's
    checkpoints), their weight average (and each run's, for sources of several runs), `rebuilt`
    evenly spaced sources passed through the AE (what the decoder can reach at best), the
    generated sets and the `controls` without diffusion (n sets each, pdiff.controls).

    Returns the evaluation table (EVALUATION_COLUMNS, with each model's nearest run for
    sources of several runs), the test predictions and the controls' rows and latents."""
    from pdiff.controls import control_sets

    picked = rebuilt_index(matrix.k, rebuilt)
    normalized = matrix.normalized
    with torch.no_grad():
        rebuilt_rows = matrix.denormalize(ae(normalized[picked]))
    drawn = control_sets(ae, normalized, controls, n, seed, vae=vae)
    runs = matrix.run_index()
    # Sources from several runs: each run's own weight average beside the one across runs.
    per_run = (
        {f"average_run{r}": weight_average(matrix.rows[runs == r]) for r in runs.unique().tolist()}
        if runs is not None
        else {}
    )
    groups = {
        "average": weight_average(matrix.rows),
        **per_run,
        "rebuilt": rebuilt_rows,
        "generated": generated,
        **{kind: matrix.denormalize(rows) for kind, (rows, _) in drawn.items()},
    }
    res = evaluate_groups(
        model,
        matrix.subset,
        groups,
        {s: (splits.images(s), splits.labels(s)) for s in ("val", "test")},
        device,
        batch_size,
        sets_per_batch,
        precision,
    )
    where = pd.Index(collection["checkpoint"]).get_indexer(matrix.checkpoints)
    if (where < 0).any():
        raise ArtifactError(
            "the parameter matrix's checkpoints are missing from the collection's table; "
            "rerun param_matrix (delete the matrix and rerun snakemake)"
        )
    ckpts = collection.iloc[where].reset_index(drop=True)
    src_preds = source_predictions[torch.as_tensor(where)].long()
    frames = [
        pd.DataFrame(
            {
                "group": "source",
                "index": range(matrix.k),
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
        frames = [
            frame.join(
                nearest_runs(
                    (rows - matrix.mean) / matrix.std, preds, normalized, src_preds, runs, labels
                )
            )
            for frame, rows, preds in zip(
                frames,
                [matrix.rows, *groups.values()],
                [src_preds, *(res[g, "test"][1] for g in groups)],
                strict=True,
            )
        ]
    table = pd.concat(frames, ignore_index=True)
    predictions = {
        "source_predictions": src_preds,
        "rebuilt_sources": picked,
        **{f"{g}_predictions": res[g, "test"][1] for g in groups},
        "test_labels": splits.labels("test"),
    }
    controls_out = {
        **{f"{kind}_params": groups[kind] for kind in drawn},
        **{f"{kind}_latents": z for kind, (_, z) in drawn.items()},
    }
    for group, rows in table.groupby("group", sort=False):
        log(
            f"{group}: n={len(rows)} test acc max {rows.test_acc.max():.2f} "
            f"mean {rows.test_acc.mean():.2f}"
        )
    return table, predictions, controls_out
