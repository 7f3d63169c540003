"""Figures (PNG) of the tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from pdiff.io import atomic_path  # noqa: E402


def save_figure(fig, path: str) -> None:
    """Write a figure as PNG, atomically, and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def ablation_plot(table: pd.DataFrame, axis: str, path: str) -> None:
    """Best / mean / median test accuracy of generated models per value of an axis, as points
    (the values are categories: no line joins two variants), with each variant's own sources'
    mean as a cross and the default sources' values as dashed lines, each in the legend."""
    src, rows = table.iloc[0], table.iloc[1:]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = range(len(rows))
    for stat, marker in (("best", "o"), ("mean", "s"), ("median", "^")):
        points = ax.plot(x, rows[stat], marker=marker, ls="none", label=f"generated {stat}")[0]
        ax.axhline(
            src[stat], color=points.get_color(), ls="--", lw=0.8, label=f"default sources {stat}"
        )
    ax.plot(x, rows["sources_mean"], "kx", ls="none", label="own sources mean")
    ax.set_xticks(list(x), [str(v) for v in rows[axis]])
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_xlabel(axis)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"ablation over {axis}")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def similarity_scatter(models: pd.DataFrame, path: str, title: str = "") -> None:
    """Test accuracy against max similarity to the sources, a colour per group (the paper's
    memorization scatter, with the critique's baselines); p-diff's points drawn last, on
    top of the baselines'."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, m in models.groupby("group", sort=False):
        on_top = name == "p-diff"
        ax.scatter(
            m.max_similarity,
            m.test_acc,
            s=14 if on_top else 10,
            alpha=0.8 if on_top else 0.5,
            label=name,
            zorder=3 if on_top else 2,
            edgecolors="black" if on_top else "none",
            linewidths=0.3,
        )
    ax.set_xlabel("max similarity to any source (IoU of wrong test predictions)")
    ax.set_ylabel("test accuracy (%)")
    head = f"{title}: " if title else ""
    ax.set_title(f"{head}new models or copies? (right = closer to a source)", fontsize=9)
    ax.legend(fontsize=7, markerscale=1.5, loc="best")
    save_figure(fig, path)


def latent_tsne(latents: dict[str, torch.Tensor], seed: int, path: str, title: str = "") -> None:
    """t-SNE (scikit-learn) of the AE latents of several groups of models."""
    from sklearn.manifold import TSNE

    names = list(latents)
    x = torch.cat([latents[n].flatten(1) for n in names]).double().numpy()
    emb = TSNE(
        n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), random_state=seed, init="pca"
    ).fit_transform(x)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    start = 0
    for n in names:
        end = start + len(latents[n])
        ax.scatter(emb[start:end, 0], emb[start:end, 1], s=10, alpha=0.7, label=n)
        start = end
    ax.set_title(f"t-SNE of AE latents{' (' + title + ')' if title else ''}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8)
    save_figure(fig, path)


def similarity_range_by_k(table: pd.DataFrame, path: str) -> None:
    """Min / median / max of generated models' max similarity against K."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    x = range(len(table))
    ax.fill_between(x, table.max_sim_min, table.max_sim_max, alpha=0.3, label="min-max")
    ax.plot(x, table.max_sim_median, marker="o", label="median")
    ax.set_xticks(list(x), [str(k) for k in table.k])
    ax.set_xlabel("K, source checkpoints")
    ax.set_ylabel("max similarity to a source")
    ax.set_title("range of generated models' max similarity against K")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def nearest_run_scatter(evals: pd.DataFrame, title: str, path: str) -> None:
    """Test accuracy against the distance to the nearest source (normalized parameters), a
    colour per nearest run: generated sets as dots, the controls as crosses, each run's
    sources' mean as a dashed line of its colour and the weight average across runs as a
    black one."""
    from pdiff.controls import CONTROLS

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    src = evals[evals["group"] == "source"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run, rows in src.groupby("run"):
        colour = colours[int(run) % len(colours)]
        ax.axhline(rows.test_acc.mean(), color=colour, ls="--", lw=0.8)
        gen = evals[(evals.group == "generated") & (evals.run == run)]
        ax.scatter(
            gen.run_distance, gen.test_acc, s=12, color=colour, label=f"generated, run {run}"
        )
        ctrl = evals[evals.group.isin(list(CONTROLS)) & (evals.run == run)]
        ax.scatter(ctrl.run_distance, ctrl.test_acc, s=12, marker="x", color=colour, alpha=0.5)
    average = evals[evals.group == "average"].test_acc
    if len(average):
        ax.axhline(average.iloc[0], color="k", ls=":", lw=1, label="weight average across runs")
    ax.scatter([], [], marker="x", color="grey", label="controls (colour: nearest run)")
    ax.set_xlabel("distance to the nearest source (normalized parameters)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    save_figure(fig, path)
