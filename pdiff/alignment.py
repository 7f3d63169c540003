"""Permutation alignment of independently trained networks, by weight matching.

Two networks trained from different seeds can compute the same function with their hidden
units in another order; averaged or fitted as they are, their weights land between the two
and fail. Weight matching (Ainsworth, Hayase and Srinivasa, "Git Re-Basin", 2022; the
alignment DeepWeightFlow uses before generating) permutes one network's hidden units to
match a reference's: one linear assignment per layer, maximizing the inner product of the
weights that touch it, repeated over the layers until no assignment changes. Permuting
hidden units consistently (a layer's outputs and the next layer's inputs) leaves the
network's function exactly as it was.

Supported: sequential networks of Conv2d (groups 1), Linear, BatchNorm, pooling,
activations, Dropout and Flatten (pdiff's small_cnn, with or without BatchNorm). Any other
module is refused (AlignmentError names it): residual connections and attention need
permutation specs of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# Modules that act on each channel alone (or on none): hidden units pass through unchanged.
PASS_THROUGH = (
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.ReLU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.LeakyReLU,
    nn.ELU,
    nn.Dropout,
    nn.Identity,
)
BATCHNORM_TENSORS = ("weight", "bias", "running_mean", "running_var")


class AlignmentError(ValueError):
    """A network weight matching cannot permute."""


@dataclass(frozen=True)
class PermutationSpec:
    """Which permutation acts on which axis of which tensor.

    axes: tensor name -> one permutation name (or None) per axis of the tensor's view;
    views: tensor name -> the shape it is permuted in (a Linear layer after Flatten sees
    its input as channels x positions); sizes: permutation name -> its number of units.
    """

    axes: dict[str, tuple[str | None, ...]]
    views: dict[str, tuple[int, ...]]
    sizes: dict[str, int]


def permutation_spec(model: nn.Module) -> PermutationSpec:
    """The permutation spec of a supported sequential network (see the module's doc): a
    permutation per hidden layer, none on the input and on the last layer's output."""
    if not isinstance(model, nn.Sequential):
        raise AlignmentError(
            f"alignment supports sequential networks (pdiff's small_cnn); "
            f"{type(model).__name__} is not one: set align: none"
        )
    children = list(model.named_children())
    weighted = [n for n, m in children if isinstance(m, (nn.Conv2d, nn.Linear))]
    if not weighted:
        raise AlignmentError("the network has no Conv2d or Linear layer to align")
    axes: dict[str, tuple[str | None, ...]] = {}
    views: dict[str, tuple[int, ...]] = {}
    sizes: dict[str, int] = {}
    current: str | None = None  # the permutation of the channels flowing out of the last layer
    flattened = False
    for name, m in children:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if isinstance(m, nn.Conv2d) and m.groups != 1:
                raise AlignmentError(f"layer {name}: grouped convolutions cannot be aligned")
            out = None if name == weighted[-1] else f"P_{name}"
            if out:
                sizes[out] = m.weight.shape[0]
            shape = tuple(m.weight.shape)
            if isinstance(m, nn.Linear) and flattened and current is not None:
                channels = sizes[current]
                shape = (shape[0], channels, shape[1] // channels)
            axes[f"{name}.weight"] = (out, current) + (None,) * (len(shape) - 2)
            views[f"{name}.weight"] = shape
            if m.bias is not None:
                axes[f"{name}.bias"] = (out,)
                views[f"{name}.bias"] = tuple(m.bias.shape)
            current, flattened = out, False
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            for t in BATCHNORM_TENSORS:
                if getattr(m, t, None) is not None:
                    axes[f"{name}.{t}"] = (current,)
                    views[f"{name}.{t}"] = (m.num_features,)
        elif isinstance(m, nn.Flatten):
            flattened = True
        elif not isinstance(m, PASS_THROUGH):
            raise AlignmentError(
                f"layer {name} ({type(m).__name__}) cannot be aligned: weight matching "
                "supports Conv2d, Linear, BatchNorm, pooling, activations, Dropout and "
                "Flatten in a Sequential; set align: none"
            )
    return PermutationSpec(axes, views, sizes)


def permute(
    spec: PermutationSpec, perms: dict[str, torch.Tensor], state: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The tensors of `state` with every permutation applied (tensors the spec does not
    name, such as BatchNorm's step counter, are kept as they are)."""
    out = {}
    for name, t in state.items():
        if name not in spec.axes:
            out[name] = t
            continue
        v = t.reshape(spec.views[name])
        for axis, p in enumerate(spec.axes[name]):
            if p is not None:
                v = v.index_select(axis, perms[p])
        out[name] = v.reshape(t.shape)
    return out


def weight_matching(
    spec: PermutationSpec,
    reference: dict[str, torch.Tensor],
    other: dict[str, torch.Tensor],
    max_rounds: int = 100,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Permutations that bring `other`'s hidden units onto `reference`'s: permute(spec,
    perms, other) is then as close to `reference` as one assignment per layer, repeated
    in a seeded random order until a round changes none, makes it."""
    from scipy.optimize import linear_sum_assignment

    names = [n for n in spec.axes if n in reference and n in other]
    view = {
        n: (reference[n].detach().double().reshape(spec.views[n]), other[n].detach().double())
        for n in names
    }
    perms = {p: torch.arange(n) for p, n in spec.sizes.items()}
    rng = np.random.default_rng(seed)
    for _ in range(max_rounds):
        changed = False
        for p in rng.permutation(sorted(spec.sizes)):
            n = spec.sizes[p]
            cost = torch.zeros(n, n, dtype=torch.float64)
            for name in names:
                if p not in spec.axes[name]:
                    continue
                axis = spec.axes[name].index(p)
                ref, oth = view[name]
                # the other tensor with every permutation but this one applied
                oth = permute(spec, {**perms, p: torch.arange(n)}, {name: oth})[name]
                oth = oth.reshape(spec.views[name])
                a = ref.movedim(axis, 0).reshape(n, -1)
                b = oth.movedim(axis, 0).reshape(n, -1)
                cost += a @ b.T
            _, cols = linear_sum_assignment(cost.numpy(), maximize=True)
            cols = torch.as_tensor(cols)
            rows = torch.arange(n)
            if cost[rows, cols].sum() > cost[rows, perms[p]].sum() + 1e-9:
                changed = True
                perms[p] = cols
        if not changed:
            break
    return perms


def align_rows(
    model: nn.Module, subset, rows: torch.Tensor, runs: torch.Tensor, seed: int = 0
) -> torch.Tensor:
    """Rows of a whole-network parameter matrix (K x D, in `subset`'s layout) from several
    runs, each run's permuted onto run 0: one set of permutations per run, matched between
    the runs' mean weights (a run's checkpoints lie in one basin) and applied to every row
    of that run. Every tensor the permutations touch must be in the subset."""
    spec = permutation_spec(model)
    params = dict(model.named_parameters())
    outside = [n for n in spec.axes if n in params and n not in subset.names]
    buffers = [n for n in spec.axes if n not in params and n in dict(model.named_buffers())]
    if outside or buffers:
        raise AlignmentError(
            "alignment permutes whole layers, but "
            + (f"tensors {outside[:4]} are not generated" if outside else "")
            + (" and " if outside and buffers else "")
            + (f"running statistics {buffers[:4]} are not parameters" if buffers else "")
            + "; align a whole network without BatchNorm, or set align: none"
        )
    out = rows.clone()
    reference = subset.unflatten(rows[runs == 0].mean(0))
    for run in sorted(set(runs.tolist()) - {0}):
        mine = runs == run
        perms = weight_matching(spec, reference, subset.unflatten(rows[mine].mean(0)), seed=seed)
        out[mine] = torch.stack(
            [subset.flatten(permute(spec, perms, subset.unflatten(row))) for row in rows[mine]]
        )
    return out
