"""Tables from evaluation results: the main table and per-group statistics."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pdiff.controls import CONTROLS, control_groups

# The main table's rows: (id, label, group, statistic). Tables and code key rows by id;
# the label is only for the Markdown (row_label).
MAIN_ROWS = [
    ("source_best", "original (best source, chosen on test)", "source", "best"),
    ("average", "ensemble (weight average of sources)", "average", "best"),
    ("generated_best", "p-diff (best generated, chosen on test)", "generated", "best"),
    ("source_mean", "sources mean", "source", "mean"),
    ("source_median", "sources median", "source", "median"),
    ("generated_mean", "generated mean", "generated", "mean"),
    ("generated_median", "generated median", "generated", "median"),
    ("generated_p5", "generated 5th percentile", "generated", "p5"),
    ("source_val_chosen", "original, chosen on validation (honest)", "source", "val_chosen"),
    ("generated_val_chosen", "p-diff, chosen on validation (honest)", "generated", "val_chosen"),
    ("generated_nonfinite", "generated sets with NaN/Inf (excluded above)", "generated",
     "nonfinite"),
    ("rebuilt_mean", "AE-rebuilt sources mean (the decoder's ceiling)", "rebuilt", "mean"),
    ("rebuilt_best", "AE-rebuilt sources best", "rebuilt", "best"),
]  # fmt: skip
# Diagnostics of the AE and the DDPM (from their metrics files), below the accuracy rows.
DIAGNOSTIC_ROWS = [
    ("overfit_gap", "AE overfit check: one source rebuilt minus source (val acc points)"),
    ("latent_std", "latent std fed to the DDPM (before scaling to 1)"),
    ("latent_spread", "latent std across sources (about each coordinate's mean)"),
]
# Statistics of the controls' rows and of the generated-minus-best-control rows: id -> words.
CONTROL_STATS = {"mean": "mean", "p5": "5th percentile"}


def row_label(row: str) -> str:
    """The words for a main-table row id (the Markdown's first column)."""
    from pdiff.runs import BETWEEN_POINTS, NEAR_POINTS

    fixed = {i: label for i, label, *_ in MAIN_ROWS} | dict(DIAGNOSTIC_ROWS)
    if row in fixed:
        return fixed[row]
    if m := re.fullmatch(r"run(\d+)_(sources_mean|average)", row):
        what = "sources mean" if m[2] == "sources_mean" else "weight average of its sources"
        return f"run {m[1]}: {what}"
    if m := re.fullmatch(r"(\w+)_(near_run|between_runs)", row):
        if m[2] == "near_run":
            return f"{_group_label(m[1])}: % within {NEAR_POINTS:g} points of its nearest run"
        return f"{_group_label(m[1])}: % between runs (>{BETWEEN_POINTS:g} points below all)"
    if m := re.fullmatch(r"minus_best_control_(\w+)", row):
        return f"generated minus best control, {CONTROL_STATS[m[1]]} (points)"
    if m := re.fullmatch(rf"({'|'.join(CONTROLS)})_(\w+)", row):
        return f"control: {CONTROLS[m[1]]}, {CONTROL_STATS[m[2]]}"
    raise KeyError(f"no main-table row '{row}'")


def main_table_markdown(table: pd.DataFrame) -> str:
    """The main table with each row's words in place of its id."""
    return table.assign(row=table["row"].map(row_label)).to_markdown(index=False, floatfmt=".2f")


def group_stats(evals: pd.DataFrame, group: str) -> dict[str, float]:
    """Test accuracy best / mean / median of a group, the validation-chosen model's test
    accuracy, and how many sets were non-finite (excluded from the others, never dropped)."""
    rows = evals[evals["group"] == group]
    ok = rows[rows["finite"].astype(bool)]
    val_chosen = ok.loc[ok["val_acc"].idxmax(), "test_acc"] if len(ok) else float("nan")
    return {
        "best": ok["test_acc"].max(),
        "mean": ok["test_acc"].mean(),
        "median": ok["test_acc"].median(),
        "p5": ok["test_acc"].quantile(0.05) if len(ok) else float("nan"),
        "val_chosen": val_chosen,
        "n": len(rows),
        "nonfinite": int(len(rows) - len(ok)),
    }


# When the generator has lost (pdiff.reporting.generator_verdict).
LOST_MEAN_POINTS = 1.0  # generated mean this far below the sources' mean
COLLAPSE_POINTS = 2.0  # a generated set this far below the sources' mean has collapsed
COLLAPSE_FRACTION = 0.05  # ... and more than this share of collapsed sets


def share_below(evals: pd.DataFrame, group: str, points: float) -> float:
    """The share (0 to 1) of a group's sets more than `points` below the sources' mean of the
    same evaluation table; non-finite sets count as below, an empty group as all below."""
    src = evals[evals["group"] == "source"]["test_acc"].mean()
    rows = evals[evals["group"] == group]
    if not len(rows):
        return 1.0
    return float((~rows["finite"].astype(bool) | (rows["test_acc"] < src - points)).mean())


def generator_verdict(evals_by_seed: dict[int, pd.DataFrame]) -> list[str]:
    """Warnings, one per seed on which the generator lost to its sources: the generated mean
    more than LOST_MEAN_POINTS below the sources' mean, or more than COLLAPSE_FRACTION of
    generated sets more than COLLAPSE_POINTS below it (non-finite sets count as collapsed).
    Each names the diagnostics to read next. Empty when the generator held up."""
    lines = []
    for seed, df in sorted(evals_by_seed.items()):
        src = df[df["group"] == "source"]["test_acc"].mean()
        gen = df[df["group"] == "generated"]
        ok = gen[gen["finite"].astype(bool)]["test_acc"]
        gap = src - ok.mean() if len(ok) else float("inf")
        share = share_below(df, "generated", COLLAPSE_POINTS)
        if gap <= LOST_MEAN_POINTS and share <= COLLAPSE_FRACTION:
            continue
        rebuilt = df[df["group"] == "rebuilt"]["test_acc"].mean()
        where = (
            "the AE: its rebuilt sources already lose "
            f"{src - rebuilt:.2f} points (raise ae.steps, widen the AE or its latent)"
            if src - rebuilt > LOST_MEAN_POINTS
            else "the latent diffusion: the AE rebuilds its sources "
            f"({rebuilt:.2f} vs {src:.2f}), so generated latents miss the sources' "
            "(the denoiser's ldm settings: kind, latent_norm, steps, lr_schedule, ema_decay)"
        )
        lines.append(
            f"GENERATOR LOST on seed {seed}: generated mean {ok.mean():.2f} vs sources "
            f"mean {src:.2f} ({gap:.2f} points below); {share:.0%} of generated sets "
            f"more than {COLLAPSE_POINTS:g} points below the sources' mean. Read "
            f"next: {where}."
        )
    return lines


STATISTICS = {"mean": np.mean, "5th percentile": lambda a: np.quantile(a, 0.05)}


def _finite_acc(evals: pd.DataFrame, group: str) -> np.ndarray:
    rows = evals[(evals["group"] == group) & evals["finite"].astype(bool)]
    return rows["test_acc"].to_numpy(dtype=float)


def control_comparison(evals: pd.DataFrame, resamples: int = 2000, seed: int = 0) -> dict:
    """Generated sets against the best control, per statistic (mean, 5th percentile of test
    accuracy over sets): {statistic: {control, generated, best, difference, low, high}},
    low and high the 95% percentile-bootstrap interval of the difference, resampling the
    generated and the control sets independently. Empty without controls."""
    controls = control_groups(evals)
    gen = _finite_acc(evals, "generated")
    if not controls or not len(gen):
        return {}
    rng = np.random.default_rng(seed)
    out = {}
    for name, stat in STATISTICS.items():
        values = {c: stat(a) if len(a := _finite_acc(evals, c)) else -np.inf for c in controls}
        best = max(controls, key=values.get)
        ctrl = _finite_acc(evals, best)
        if not len(ctrl):  # every control set non-finite: nothing to resample
            inf = float("inf")
            out[name] = {"control": best, "generated": float(stat(gen)), "best": float("nan"),
                         "difference": inf, "low": inf, "high": inf}  # fmt: skip
            continue
        diffs = [
            stat(rng.choice(gen, len(gen))) - stat(rng.choice(ctrl, len(ctrl)))
            for _ in range(resamples)
        ]
        low, high = np.quantile(diffs, [0.025, 0.975]) if diffs else (np.nan, np.nan)
        out[name] = {
            "control": best,
            "generated": float(stat(gen)),
            "best": float(values[best]),
            "difference": float(stat(gen) - values[best]),
            "low": float(low),
            "high": float(high),
        }
    return out


def diffusion_verdict(evals_by_seed: dict[int, pd.DataFrame], resamples: int = 2000) -> list[str]:
    """One line per seed: whether the generated sets beat the best control without
    diffusion beyond noise (a 95% bootstrap interval of the difference in mean and in 5th
    percentile that excludes 0), lose to it, or neither (DIFFUSION ADDS NOTHING), headed by
    the size of the difference in mean. The interval covers the sampling of sets, not the
    variation between seeds: a table of several seeds shows that."""
    lines = []
    for seed, df in sorted(evals_by_seed.items()):
        comparison = control_comparison(df, resamples)
        if not comparison:
            continue
        above = [s for s, c in comparison.items() if c["low"] > 0]
        below = [s for s, c in comparison.items() if c["high"] < 0]
        if above and below:
            head = "DIFFUSION MIXED against the controls"
        elif above:
            head = "DIFFUSION BEATS THE CONTROLS"
        elif below:
            head = "DIFFUSION LOSES TO A CONTROL"
        else:
            head = "DIFFUSION ADDS NOTHING over the controls"
        parts = [
            f"{stat} {c['generated']:.2f} vs {c['best']:.2f} ({c['control']}): "
            f"{c['difference']:+.2f} points [{c['low']:+.2f}, {c['high']:+.2f}]"
            for stat, c in comparison.items()
        ]
        size = comparison["mean"]["difference"]
        lines.append(
            f"{head} on seed {seed} ({size:+.2f} points in mean): generated minus the best "
            "control, " + "; ".join(parts) + " (95% bootstrap intervals over sets)."
        )
    return lines


def _group_label(group: str) -> str:
    return f"control: {CONTROLS[group]}" if group in CONTROLS else group


def run_rows(evals: pd.DataFrame) -> list[tuple[str, float]]:
    """Rows of the main table for sources from several runs (pdiff.runs; none otherwise):
    each run's sources' mean and own weight average, and for the generated sets and each
    control the share that lands on a run (within NEAR_POINTS of its nearest run's mean)
    and between the runs (more than BETWEEN_POINTS below every run's mean)."""
    from pdiff.runs import has_runs, landing, run_means

    if not has_runs(evals):
        return []
    means = run_means(evals)
    rows = [(f"run{r}_sources_mean", means[r]) for r in means.index]
    rows += [
        (f"run{r}_average", group_stats(evals, f"average_run{r}")["best"]) for r in means.index
    ]
    for group in ["generated", *control_groups(evals)]:
        land = landing(evals, group)
        rows += [(f"{group}_near_run", land["near"]), (f"{group}_between_runs", land["between"])]
    return rows


def runs_verdict(evals_by_seed: dict[int, pd.DataFrame]) -> list[str]:
    """One line per seed for sources from several runs (none otherwise): the generated mean
    against the sources' and the cross-run weight average's, and the share of generated sets
    on a run and between the runs against the control with the most on a run."""
    from pdiff.runs import BETWEEN_POINTS, NEAR_POINTS, has_runs, landing

    lines = []
    for seed, df in sorted(evals_by_seed.items()):
        if not has_runs(df):
            continue
        gen = landing(df, "generated")
        controls = {c: landing(df, c) for c in control_groups(df)}
        line = (
            f"RUNS on seed {seed}: generated mean {group_stats(df, 'generated')['mean']:.2f} "
            f"vs sources mean {group_stats(df, 'source')['mean']:.2f} and the weight average "
            f"across runs {group_stats(df, 'average')['best']:.2f}; {gen['near']:.0f}% of "
            f"generated sets within {NEAR_POINTS:g} points of their nearest run's mean, "
            f"{gen['between']:.0f}% between runs (more than {BETWEEN_POINTS:g} points below "
            f"every run's mean), nearest run by parameters and by predictions the same for "
            f"{gen['agree']:.0f}%"
        )
        if controls:
            # most on a run, then fewest between runs
            best = max(controls, key=lambda c: (controls[c]["near"], -controls[c]["between"]))
            line += (
                f"; the best control, {CONTROLS[best]}: {controls[best]['near']:.0f}% on a "
                f"run, {controls[best]['between']:.0f}% between runs"
            )
        lines.append(line + ".")
    return lines


def diagnostics(ae_metrics: dict, ldm_metrics: dict) -> dict[str, float]:
    """The numbers of DIAGNOSTIC_ROWS from an AE's and an LDM's metrics files."""
    check = ae_metrics.get("overfit_check") or {}
    gap = (check["rebuilt_val_acc"] - check["source_val_acc"]) if check else float("nan")
    return {
        "overfit_gap": gap,
        "latent_std": ldm_metrics["latent_std"],
        "latent_spread": ldm_metrics.get("latent_std_across_sources", float("nan")),
    }


def main_table(
    evals_by_seed: dict[int, pd.DataFrame], diagnostics_by_seed: dict[int, dict] | None = None
) -> pd.DataFrame:
    """Rows of the paper's main table (plus the honest variant, the AE's ceiling, the controls
    without diffusion with the generated sets' difference from the best of them, for sources
    from several runs the runs' rows of run_rows, and diagnostics); a column per seed and
    the mean."""
    controls = control_groups(next(iter(evals_by_seed.values())))
    rows = [(i, g, stat) for i, _, g, stat in MAIN_ROWS] + [
        (f"{kind}_{stat}", kind, stat) for kind in controls for stat in CONTROL_STATS
    ]
    groups = ("source", "average", "generated", "rebuilt", *controls)
    stats = {seed: {g: group_stats(df, g) for g in groups} for seed, df in evals_by_seed.items()}
    differences = [f"minus_best_control_{s}" for s in CONTROL_STATS]
    diag = diagnostics_by_seed or {}
    runs = {seed: run_rows(df) for seed, df in evals_by_seed.items()}
    names = [name for name, _, _ in rows] + (differences if controls else [])
    names += [name for name, _ in next(iter(runs.values()))]
    names += [n for n, _ in DIAGNOSTIC_ROWS] if diag else []
    table = pd.DataFrame({"row": names})
    for seed in sorted(stats):
        values = [stats[seed][g][stat] for _, g, stat in rows]
        if controls:
            comparison = control_comparison(evals_by_seed[seed], resamples=0)
            values += [comparison[s]["difference"] for s in STATISTICS]
        values += [value for _, value in runs[seed]]
        extra = [diag[seed][key] for key, _ in DIAGNOSTIC_ROWS] if diag else []
        table[f"seed {seed}"] = values + extra
    seed_cols = [c for c in table.columns if c.startswith("seed ")]
    table["mean over seeds"] = table[seed_cols].mean(axis=1)
    return table


def best_control_p5(frames: list[pd.DataFrame]) -> float:
    """The best control's 5th percentile of test accuracy (the best of the controls on that
    statistic), averaged over the evaluation tables of one variant's seeds."""
    found = [c for c in (control_comparison(df, resamples=0) for df in frames) if c]
    return float(np.mean([c["5th percentile"]["best"] for c in found])) if found else np.nan


def paper_grids(cells: list[tuple[str, str, pd.DataFrame]]):
    """Experiments' main tables (means over seeds) side by side: one row per experiment with
    every main-table row as a column; and the paper's grids, an architecture per row and a
    data set per column, of original / ensemble / p-diff and of the validation-chosen
    original / p-diff."""
    wide = pd.DataFrame(
        [
            {"task": task, "net": net, **dict(zip(df["row"], df["mean over seeds"], strict=True))}
            for task, net, df in cells
        ]
    )

    def grid(columns):
        cell = wide[columns].apply(lambda r: " / ".join(f"{v:.2f}" for v in r), axis=1)
        table = wide.assign(cell=cell).pivot(index="net", columns="task", values="cell")
        return table.loc[wide["net"].unique(), wide["task"].unique()]

    return wide, *(
        grid([i for i, _, _, s in MAIN_ROWS if s == stat]) for stat in ("best", "val_chosen")
    )


STAT_COLUMNS = ["best", "mean", "median", "p5", "val_chosen", "nonfinite"]


def _run_columns(frames: list[pd.DataFrame], group: str) -> dict[str, float]:
    """For sources from several runs (none otherwise), averaged over seeds: the share of a
    group's sets on a run and between runs (pdiff.runs.landing), and the largest share on a
    run of any control."""
    from pdiff.runs import has_runs, landing

    if not all(has_runs(df) for df in frames):
        return {}
    lands = [landing(df, group) for df in frames]
    controls = [max((landing(df, c)["near"] for c in control_groups(df)), default=np.nan)
                for df in frames]  # fmt: skip
    return {
        "near_run_pct": float(np.mean([x["near"] for x in lands])),
        "between_runs_pct": float(np.mean([x["between"] for x in lands])),
        "control_near_run_pct": float(np.mean(controls)),
    }


def ablation_table(
    axis: str, variants: list[tuple[str, pd.DataFrame]], sources: list[pd.DataFrame]
) -> pd.DataFrame:
    """One row per value of an ablation axis (generated models' test accuracy, averaged over
    seeds), below a row for the default experiment's source models. Every row also gives the
    best and mean of its own variant's sources (another location or K has other sources),
    the share of its sets more than 1 and more than 2 points below that mean, the weight
    average's accuracy, each control's mean (NaN where a variant has not that control), the
    best control's 5th percentile, and for sources from several runs _run_columns."""

    def averaged(label, frames, group):
        stats = pd.DataFrame([group_stats(df, group) for df in frames])
        own = pd.DataFrame([group_stats(df, "source") for df in frames])
        return {
            axis: label,
            **stats[STAT_COLUMNS].mean().to_dict(),
            "sources_best": own["best"].mean(),
            "sources_mean": own["mean"].mean(),
            "pct_1_below": 100 * sum(share_below(df, group, 1) for df in frames) / len(frames),
            "pct_2_below": 100
            * sum(share_below(df, group, COLLAPSE_POINTS) for df in frames)
            / len(frames),
            "average": pd.Series([group_stats(df, "average")["mean"] for df in frames]).mean(),
            **{
                kind: pd.Series([group_stats(df, kind)["mean"] for df in frames]).mean()
                for kind in CONTROLS
            },
            "control_p5": best_control_p5(frames),
            **_run_columns(frames, group),
            "seeds": len(frames),
        }

    rows = [averaged("sources (default)", sources, "source")]
    labels = list(dict.fromkeys(label for label, _ in variants))
    for label in labels:
        rows.append(averaged(label, [df for lab, df in variants if lab == label], "generated"))
    return pd.DataFrame(rows)


def summary(
    evals: dict[int, pd.DataFrame], metrics: dict[int, tuple[dict, dict]], resamples: int = 2000
) -> tuple[pd.DataFrame, list[str]]:
    """The main table over seeds (evaluation tables and (AE, LDM) metrics by seed) and the
    verdicts: a warning for every seed on which the generator lost to its sources, per seed
    the verdict against the controls, and where the sets land among several runs."""
    table = main_table(evals, {seed: diagnostics(*m) for seed, m in metrics.items()})
    verdict = generator_verdict(evals) + diffusion_verdict(evals, resamples) + runs_verdict(evals)
    return table, verdict


def summary_markdown(table: pd.DataFrame, verdict: list[str], variant: str = "") -> str:
    """The main table headed by the variant it is of, the verdicts below it."""
    text = (f"Variant {variant}\n\n" if variant else "") + main_table_markdown(table) + "\n"
    if verdict:
        text += "\n" + "\n\n".join(verdict) + "\n"
    return text
