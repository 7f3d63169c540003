"""The parameter matrix: K sources of one subset as rows (K x D), with the per-tensor
normalization the autoencoder sees, the subset's layout and where each row came from.

Its format is two files, written and read here only: `param_matrix.safetensors` (`matrix`,
`mean`, `std`) and `layout.json` (the subset's tensors, the location, K, each row's
checkpoint and, for sources of several runs, each row's run and the alignment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pdiff.io import ArtifactError, load_json, load_tensors, save_json, save_tensors
from pdiff.subset import ParameterSubset, normalization_stats


@dataclass
class ParameterMatrix:
    rows: torch.Tensor  # K x D, the sources' raw values
    mean: torch.Tensor  # D, per-tensor (pdiff.subset.normalization_stats)
    std: torch.Tensor
    subset: ParameterSubset
    location: str
    checkpoints: list[str]  # each row's checkpoint file in the collection
    runs: list[int] | None = None  # each row's run (sources of several runs only)
    align: str | None = None

    @property
    def k(self) -> int:
        return len(self.rows)

    @property
    def normalized(self) -> torch.Tensor:
        """The rows at the autoencoder's scale."""
        return (self.rows - self.mean) / self.std

    def denormalize(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows at the autoencoder's scale back in parameter values."""
        return rows * self.std + self.mean

    def run_index(self) -> torch.Tensor | None:
        return torch.tensor(self.runs) if self.runs is not None else None

    def save(self, matrix_path, layout_path) -> None:
        save_tensors({"matrix": self.rows, "mean": self.mean, "std": self.std}, matrix_path)
        origin = {"runs": self.runs, "align": self.align} if self.runs is not None else {}
        save_json(
            {
                **self.subset.to_dict(),
                "location": self.location,
                "k": self.k,
                "checkpoints": self.checkpoints,
                **origin,
            },
            layout_path,
        )

    @classmethod
    def load(cls, matrix_path, layout_path=None) -> ParameterMatrix:
        """From `save`'s files (the layout: `layout.json` beside the matrix unless given)."""
        layout_path = layout_path or Path(matrix_path).with_name("layout.json")
        t, layout = load_tensors(matrix_path), load_json(layout_path)
        return cls(
            t["matrix"],
            t["mean"],
            t["std"],
            ParameterSubset.from_dict(layout),
            layout["location"],
            layout["checkpoints"],
            layout.get("runs"),
            layout.get("align"),
        )

    @classmethod
    def from_collection(
        cls,
        model: nn.Module,
        subset: ParameterSubset,
        location: str,
        checkpoints: str | Path,
        k: int,
        table=None,
        align: str = "none",
        log=print,
    ) -> ParameterMatrix:
        """The first K checkpoints of a collection folder; sources of several runs (a `run`
        column in the collection's table): the first K/R of each run, with align 'weights'
        each run's rows permuted onto run 0's (pdiff.alignment)."""
        files = sorted(Path(checkpoints).glob("*.safetensors"))
        if len(files) < k:
            raise ArtifactError(f"{checkpoints}: {len(files)} checkpoints, K={k} asked for")
        runs = None
        if table is not None and "run" in table and table["run"].nunique() > 1:
            chosen = table.groupby("run", sort=True).head(k // table["run"].nunique())
            files = [Path(checkpoints) / name for name in chosen["checkpoint"]]
            runs = torch.tensor(chosen["run"].to_numpy())
        else:
            files = files[:k]
        rows = []
        for f in files:
            try:
                rows.append(subset.flatten(load_tensors(f)))
            except (KeyError, ValueError) as e:
                raise ArtifactError(f"{f}: does not match the subset '{location}' ({e})") from e
        rows = torch.stack(rows)
        if runs is not None and align == "weights":
            from pdiff.alignment import align_rows

            before, rows = rows, align_rows(model, subset, rows, runs)
            log(
                "aligned onto run 0: mean distance between run means "
                f"{run_spread(before, runs):.3f} before, {run_spread(rows, runs):.3f} after"
            )
        mean, std = normalization_stats(rows, subset)
        names = [f.name for f in files]
        if runs is None:
            return cls(rows, mean, std, subset, location, names)
        return cls(rows, mean, std, subset, location, names, runs.tolist(), align)


def run_spread(rows: torch.Tensor, runs: torch.Tensor) -> float:
    """Mean L2 distance between the runs' mean rows."""
    means = torch.stack([rows[runs == r].mean(0) for r in runs.unique()])
    d = torch.cdist(means, means)
    return float(d.sum() / max(len(means) * (len(means) - 1), 1))
