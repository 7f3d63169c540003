"""Is p-diff memorizing? Baseline groups of models built from the sources, and the measures
that compare every group with the sources (the paper's and its critique's)."""

from __future__ import annotations

import pandas as pd
import torch

from pdiff.similarity import max_similarity, nearest_distance, wrong_prediction_iou
from pdiff.subset import ParameterSubset


def noise_added(
    sources: torch.Tensor,
    subset: ParameterSubset,
    sigma: float,
    n: int,
    g: torch.Generator,
    relative: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n random sources plus Gaussian noise, relative to each tensor's std or absolute.
    Returns the rows and the index of the source each came from."""
    origin = torch.randint(len(sources), (n,), generator=g)
    rows = sources[origin]
    scale = torch.full_like(rows, sigma)
    if relative:
        idx = subset.tensor_index()
        for i in range(len(subset.names)):
            cols = idx == i
            scale[:, cols] = sigma * rows[:, cols].std(dim=1, unbiased=False, keepdim=True)
    return rows + scale * torch.randn(rows.shape, generator=g), origin


def source_averages(sources: torch.Tensor, of: int, repeats: int, g: torch.Generator):
    """`repeats` uniform averages of `of` distinct random sources."""
    of = min(of, len(sources))
    return torch.stack(
        [sources[torch.randperm(len(sources), generator=g)[:of]].mean(0) for _ in range(repeats)]
    )


def coordinate_gaussian(sources: torch.Tensor, repeats: int, g: torch.Generator):
    """Each coordinate drawn from N(mean, std) of the sources, independently."""
    mean, std = sources.mean(0), sources.std(0, unbiased=False)
    return mean + std * torch.randn((repeats, sources.shape[1]), generator=g)


def novelty(
    groups: dict[str, torch.Tensor],
    preds: dict[str, torch.Tensor],
    labels: torch.Tensor,
    sources: str,
    normalize,
) -> pd.DataFrame:
    """Per model: max wrong-prediction IoU with any source (a source not with itself) and
    L2 distance to the nearest source, raw and in normalized parameters."""
    src_rows, src_preds = groups[sources], preds[sources]
    frames = []
    for name, rows in groups.items():
        is_src = name == sources
        ok = torch.isfinite(rows).all(1)
        sim = torch.full((len(rows),), float("nan"))
        raw = torch.full((len(rows),), float("nan"))
        norm = torch.full((len(rows),), float("nan"))
        near = torch.full((len(rows),), -1, dtype=torch.long)
        if ok.any():
            s = wrong_prediction_iou(preds[name][ok], src_preds, labels)
            sim[ok] = max_similarity(s, exclude_self=is_src)
            raw[ok], near[ok] = nearest_distance(rows[ok], src_rows, exclude_self=is_src)
            norm[ok], _ = nearest_distance(
                normalize(rows[ok]), normalize(src_rows), exclude_self=is_src
            )
        frames.append(
            pd.DataFrame(
                {
                    "group": name,
                    "index": range(len(rows)),
                    "max_similarity": sim.tolist(),
                    "nearest_l2": raw.tolist(),
                    "nearest_l2_normalized": norm.tolist(),
                    "nearest_source": near.tolist(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def summary(models: pd.DataFrame) -> pd.DataFrame:
    """A row per group: accuracy (best/mean/median, validation-chosen), max similarity
    (min/median/max) and the median nearest-source distance."""
    from pdiff.reporting import group_stats

    rows = []
    for name, m in models.groupby("group", sort=False):
        acc = group_stats(m, name)
        rows.append(
            {
                "group": name,
                "n": acc["n"],
                "nonfinite": acc["nonfinite"],
                "acc_best": acc["best"],
                "acc_mean": acc["mean"],
                "acc_median": acc["median"],
                "acc_val_chosen": acc["val_chosen"],
                "max_sim_min": m.max_similarity.min(),
                "max_sim_median": m.max_similarity.median(),
                "max_sim_max": m.max_similarity.max(),
                "nearest_l2_median": m.nearest_l2.median(),
                "nearest_l2_normalized_median": m.nearest_l2_normalized.median(),
            }
        )
    return pd.DataFrame(rows)
