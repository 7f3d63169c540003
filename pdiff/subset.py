"""Parameter subsets: which tensors are generated, and how rows of the K x D matrix map to them."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import torch
from torch import nn


class LayerPatternError(ValueError):
    """A layer pattern matched no tensor of the network."""


def resolve_patterns(names: list[str], patterns: list[str]) -> list[str]:
    """Tensor names matched by glob patterns, in the network's order.

    Every pattern must match something: a typo would otherwise silently shrink the subset.
    """
    chosen = set()
    for p in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, p)]
        if not hits:
            raise LayerPatternError(
                f"layer pattern '{p}' matches no tensor; the network's tensors are: "
                + ", ".join(names)
            )
        chosen.update(hits)
    return [n for n in names if n in chosen]


@dataclass(frozen=True)
class ParameterSubset:
    """Named tensors laid end to end in one flat row: names, shapes and offsets."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def from_model(cls, model: nn.Module, patterns: list[str]) -> ParameterSubset:
        params = dict(model.named_parameters())
        names = resolve_patterns(list(params), patterns)
        return cls(tuple(names), tuple(tuple(params[n].shape) for n in names))

    @classmethod
    def from_dict(cls, d: dict) -> ParameterSubset:
        return cls(tuple(d["names"]), tuple(tuple(s) for s in d["shapes"]))

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "shapes": [list(s) for s in self.shapes],
            "offsets": list(self.offsets),
            "dim": self.dim,
        }

    @property
    def numels(self) -> list[int]:
        return [int(torch.Size(s).numel()) for s in self.shapes]

    @property
    def offsets(self) -> list[int]:
        out, acc = [], 0
        for n in self.numels:
            out.append(acc)
            acc += n
        return out

    @property
    def dim(self) -> int:
        return sum(self.numels)

    def flatten(self, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        """One row from named tensors."""
        missing = [n for n in self.names if n not in tensors]
        if missing:
            raise KeyError(f"tensors missing from the checkpoint: {missing}")
        for n, s in zip(self.names, self.shapes, strict=True):
            if tuple(tensors[n].shape) != s:
                raise ValueError(
                    f"tensor '{n}' has shape {tuple(tensors[n].shape)}, the layout says {s}"
                )
        return torch.cat([tensors[n].reshape(-1).float() for n in self.names])

    def unflatten(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named tensors from rows (..., D); leading dimensions are kept (batched sets)."""
        if rows.shape[-1] != self.dim:
            raise ValueError(f"rows have {rows.shape[-1]} columns, the layout has {self.dim}")
        lead = rows.shape[:-1]
        return {
            n: rows[..., o : o + k].reshape(*lead, *s)
            for n, s, o, k in zip(self.names, self.shapes, self.offsets, self.numels, strict=True)
        }

    def tensor_index(self) -> torch.Tensor:
        """For each of the D columns, the index of the tensor it belongs to."""
        return torch.repeat_interleave(torch.arange(len(self.names)), torch.tensor(self.numels))


def normalization_stats(
    matrix: torch.Tensor, subset: ParameterSubset, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-tensor mean and std over all K rows and the tensor's elements, expanded to D columns.

    Per tensor (not per column) so that K=1 still has a usable scale, and tensors of very
    different magnitude (BN weights near 1, biases near 0) reach the AE on one scale.
    """
    idx = subset.tensor_index()
    mean = torch.zeros(subset.dim)
    std = torch.ones(subset.dim)
    for i in range(len(subset.names)):
        cols = idx == i
        block = matrix[:, cols]
        mean[cols] = block.mean()
        s = block.std(unbiased=False) if block.numel() > 1 else torch.tensor(0.0)
        std[cols] = s if s > eps else 1.0
    return mean, std
