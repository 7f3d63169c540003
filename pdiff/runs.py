"""Sources from several independent training runs: which networks allow them, each run's
seed, and where a generated model lands among the runs.

Consecutive checkpoints of one run lie in one basin: their average is as good as any of
them, and a Gaussian fitted to them generates as well as a DDPM. Runs from different seeds
sit in different basins (related by permutations of hidden units, pdiff.alignment): their
average and a single Gaussian land between the runs and fail, and a generator has to learn
a distribution with one mode per run. pdiff's own addition; neither the paper nor its
official code nor the critique measures this case.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import torch
from torch import nn

from pdiff.similarity import nearest_distance, wrong_prediction_iou

# A generated model within this many points of its nearest run's sources' mean is on that
# run; more than BETWEEN_POINTS below every run's mean, it landed between the runs.
NEAR_POINTS = 2.0
BETWEEN_POINTS = 5.0


def run_seed(seed: int, run: int) -> int:
    """The training seed of run `run` of a pipeline seed: run 0 is the seed itself (its
    base and collection are the single-run ones), the others are hashed from both, so that
    no run of one seed repeats a run of another."""
    if run == 0:
        return seed
    return int(hashlib.sha256(f"pdiff seed {seed} run {run}".encode()).hexdigest()[:8], 16)


def check_independent_runs(model: nn.Module, names: list[str] | tuple[str, ...]) -> None:
    """Raise ValueError unless generated rows of `names` define the whole of `model` from
    every run: every parameter generated, and no running statistics (their values differ
    from run to run and would have to come from one run's base)."""
    params = [n for n, _ in model.named_parameters()]
    missing = [n for n in params if n not in set(names)]
    if missing:
        raise ValueError(
            f"sources from several runs need a location that is the whole network ('*'): "
            f"{len(missing)} parameters ({missing[:4]}) are not generated, and outside the "
            "subset each run has its own values, while a subset needs one shared base. Use "
            "a whole-network location, or collect.runs: 1"
        )
    stats = [n for n, b in model.named_buffers() if b.is_floating_point()]
    if stats:
        raise ValueError(
            f"sources from several runs need a network without running statistics: "
            f"{stats[:4]} differ from run to run and are not generated. Leave BatchNorm out "
            "(small_cnn: network.kwargs.batchnorm: false), or collect.runs: 1"
        )


def nearest_runs(
    rows: torch.Tensor,
    predictions: torch.Tensor,
    sources: torch.Tensor,
    source_predictions: torch.Tensor,
    runs: torch.Tensor,
    labels: torch.Tensor,
) -> pd.DataFrame:
    """For each model (a parameter row, in the space the sources' rows are in, and its test
    predictions): the run of its nearest source by L2 distance of the rows ('run',
    'run_distance') and the run of the source whose wrong test predictions it shares most
    (IoU, 'run_by_predictions'). Non-finite rows get run -1."""
    finite = torch.isfinite(rows).all(1)
    dist = torch.full((len(rows),), float("nan"))
    run = torch.full((len(rows),), -1, dtype=torch.long)
    if finite.any():
        d, idx = nearest_distance(rows[finite], sources)
        dist[finite], run[finite] = d, runs[idx]
    iou = wrong_prediction_iou(predictions.long(), source_predictions.long(), labels)
    by_predictions = torch.where(finite, runs[iou.argmax(1)], torch.tensor(-1))
    return pd.DataFrame(
        {
            "run": run.numpy(),
            "run_distance": dist.numpy(),
            "run_by_predictions": by_predictions.numpy(),
        }
    )


def run_means(evals: pd.DataFrame) -> pd.Series:
    """Each run's sources' mean test accuracy (index: run)."""
    src = evals[evals["group"] == "source"]
    return src.groupby("run")["test_acc"].mean()


def has_runs(evals: pd.DataFrame) -> bool:
    """Whether an evaluation table comes from sources of several runs."""
    return "run" in evals and evals.loc[evals["group"] == "source", "run"].nunique() > 1


def landing(evals: pd.DataFrame, group: str) -> dict[str, float]:
    """Where a group's models land among the runs, in % of its models (non-finite ones count
    as neither): 'near' - within NEAR_POINTS of their nearest run's sources' mean;
    'between' - more than BETWEEN_POINTS below every run's mean; 'agree' - nearest run
    by parameters and by predictions the same."""
    means = run_means(evals)
    rows = evals[evals["group"] == group]
    if not len(rows):
        return {"near": np.nan, "between": np.nan, "agree": np.nan}
    ok = rows["finite"].astype(bool) & (rows["run"] >= 0)
    own = rows["run"].map(means)
    near = ok & ((rows["test_acc"] - own).abs() <= NEAR_POINTS)
    between = ok & (rows["test_acc"] < means.min() - BETWEEN_POINTS)
    agree = ok & (rows["run"] == rows["run_by_predictions"])
    return {
        "near": 100 * float(near.mean()),
        "between": 100 * float(between.mean()),
        "agree": 100 * float(agree.mean()),
    }


def run_table(evals: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """One row per run: its sources' mean and best test accuracy, the accuracy of its own
    weight average ('average_run<r>'), and for each group how many of its models have the
    run as nearest (by parameters) and their mean test accuracy."""
    src = evals[evals["group"] == "source"]
    table = pd.DataFrame({"run": sorted(int(r) for r in src["run"].unique())})
    table["sources_mean"] = table["run"].map(src.groupby("run")["test_acc"].mean())
    table["sources_best"] = table["run"].map(src.groupby("run")["test_acc"].max())
    averages = evals[evals["group"].str.startswith("average_run")]
    table["run_average"] = table["run"].map(averages.set_index("run")["test_acc"])
    for group in groups:
        rows = evals[(evals["group"] == group) & evals["finite"].astype(bool)]
        table[f"{group}_n"] = table["run"].map(rows.groupby("run").size()).fillna(0).astype(int)
        table[f"{group}_mean"] = table["run"].map(rows.groupby("run")["test_acc"].mean())
    return table


def nearest_run_report(evals: pd.DataFrame) -> str:
    """Per run, its sources, its own weight average, and how many generated and control sets
    land nearest to it and how well they do (run_table), with where each group lands
    (landing), as Markdown."""
    from pdiff.controls import control_groups

    groups = ["generated", *control_groups(evals)]
    lands = pd.DataFrame([{"group": g, **landing(evals, g)} for g in groups]).rename(
        columns={
            "near": f"% within {NEAR_POINTS:g} points of nearest run's mean",
            "between": f"% more than {BETWEEN_POINTS:g} points below every run",
            "agree": "% same nearest run by parameters and predictions",
        }
    )
    return (
        "Each run's sources and own weight average; per group, the sets whose nearest source "
        "(by normalized parameters) is of that run: how many (_n) and their mean test "
        "accuracy (_mean).\n\n"
        + run_table(evals, groups).to_markdown(index=False, floatfmt=".2f")
        + "\n\nWhere each group's sets land among the runs:\n\n"
        + lands.to_markdown(index=False, floatfmt=".1f")
        + "\n"
    )
