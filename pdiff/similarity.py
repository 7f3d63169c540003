"""Novelty measures: how alike two models' mistakes are, and how far apart their weights are."""

from __future__ import annotations

import torch


def wrong_prediction_iou(
    preds_a: torch.Tensor, preds_b: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """IoU of the sets of wrong test predictions, for every pair: (A x N), (B x N) -> (A x B).

    |wrong_a AND wrong_b| / |wrong_a OR wrong_b|; two models that make no mistake are
    identical in this sense (IoU 1).
    """
    wa = (preds_a != labels).float()
    wb = (preds_b != labels).float()
    inter = wa @ wb.T
    union = wa.sum(1, keepdim=True) + wb.sum(1).unsqueeze(0) - inter
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(inter))


def max_similarity(sim: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """Each row's highest similarity to any column; `exclude_self` skips the diagonal (a
    source compared with the other sources, not itself)."""
    if exclude_self:
        sim = sim.clone()
        sim.fill_diagonal_(float("-inf"))
    return sim.max(dim=1).values


def nearest_distance(a: torch.Tensor, b: torch.Tensor, exclude_self: bool = False):
    """L2 distance from each row of a to its nearest row of b, and that row's index."""
    d = torch.cdist(a.double(), b.double())
    if exclude_self:
        d.fill_diagonal_(float("inf"))
    dist, idx = d.min(dim=1)
    return dist.float(), idx
