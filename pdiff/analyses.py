"""The analysis stages: tables and plots made from finished runs (the paper table, the
ablation tables, the memorization baselines, similarity against K)."""

from __future__ import annotations

import pandas as pd
import torch

from pdiff import data as data_mod
from pdiff import runtime
from pdiff.autoencoder import NoisyAutoencoder
from pdiff.evaluation import EVALUATION_COLUMNS, evaluate_groups, finite_rows
from pdiff.io import atomic_path, load_json, load_table, load_tensors, save_table, save_tensors
from pdiff.networks import configured_network
from pdiff.subset import ParameterSubset


def paper_table(cells: list[tuple[str, str, str]], *, out_csv: str, out_md: str) -> str:
    """Stage paper_table: (task, net, main table CSV) of every experiment in one table."""
    from pdiff.reporting import paper_grids

    wide, best, honest = paper_grids([(t, n, load_table(p, ("row",))) for t, n, p in cells])
    save_table(wide, out_csv)
    text = (
        f"original / ensemble / p-diff (best on test, mean over seeds)\n\n"
        f"{best.to_markdown()}\n\nchosen on validation: original / p-diff\n\n"
        f"{honest.to_markdown()}\n"
    )
    with atomic_path(out_md) as tmp:
        tmp.write_text(text)
    return text


def ablation_table(
    axis: str,
    *,
    labels: list[str],
    eval_csvs: list[str],
    source_csvs: list[str],
    out_csv: str,
    out_md: str,
    out_png: str,
) -> pd.DataFrame:
    """Stage ablation_table: one table and one plot per ablation axis."""
    from pdiff.plots import ablation_plot
    from pdiff.reporting import ablation_table as build

    table = build(
        axis,
        [
            (lab, load_table(p, EVALUATION_COLUMNS))
            for lab, p in zip(labels, eval_csvs, strict=True)
        ],
        [load_table(p, EVALUATION_COLUMNS) for p in source_csvs],
    )
    save_table(table, out_csv, out_md)
    ablation_plot(table, axis, out_png)
    return table


def memorization_baselines(
    cfg: dict,
    *,
    data_path: str,
    base_path: str,
    matrix_path: str,
    layout_path: str,
    ae_path: str,
    generated_path: str,
    controls_path: str,
    seed: int,
    out_summary: str,
    out_summary_md: str,
    out_models: str,
    out_similarity: str,
    out_scatter: str,
    out_tsne: str,
    threads: int = 1,
    title: str = "",
) -> pd.DataFrame:
    """Stage memorization_baselines: p-diff's models next to copies of the sources (noise-added,
    fine-tuned), their averages and per-coordinate Gaussian samples, and the controls
    without diffusion (latent Gaussians decoded by the same AE, from the evaluate stage);
    accuracy, similarity of mistakes and distance in weight space, per model and group."""
    from pdiff import memorization as mem
    from pdiff.plots import latent_tsne, similarity_scatter
    from pdiff.similarity import wrong_prediction_iou
    from pdiff.training import train_subset

    device = runtime.setup(seed, threads, cfg["device"], cfg["precision"])
    log = runtime.get_logger("memorization").info
    m, c, e = cfg["memorization"], cfg["collect"], cfg["evaluate"]
    splits = data_mod.load_splits(data_path)
    model = configured_network(cfg, splits, base_path)
    subset = ParameterSubset.from_dict(load_json(layout_path))
    t = load_tensors(matrix_path)
    sources, mean, std = t["matrix"], t["mean"], t["std"]
    g = runtime.generator(seed)
    groups = {
        "source": sources,
        "p-diff": load_tensors(generated_path, check_finite=False)["params"],
    }
    for sigma in m["relative_noise"]:
        groups[f"noise x{sigma} std"], _ = mem.noise_added(
            sources, subset, sigma, m["per_group"], g, relative=True
        )
    for sigma in m["absolute_noise"]:
        groups[f"noise {sigma} abs"], _ = mem.noise_added(
            sources, subset, sigma, m["per_group"], g, relative=False
        )
    tuned = []
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    for i in torch.randint(len(sources), (m["per_group"],), generator=g).tolist():
        model.load_state_dict(subset.unflatten(sources[i]), strict=False)
        steps = list(
            train_subset(
                model,
                subset,
                splits,
                steps=m["finetune_steps"],
                batch_size=c["batch_size"],
                lr=c["lr"],
                weight_decay=c["weight_decay"],
                optimizer=c["optimizer"],
                seed=seed * 100_003 + i,
                device=device,
                precision=cfg["precision"],
            )
        )
        tuned.append(subset.flatten(steps[-1]))
    model.load_state_dict(base_state)
    groups[f"fine-tuned ({m['finetune_steps']} steps)"] = torch.stack(tuned)
    groups[f"average of {m['average_of']}"] = mem.source_averages(
        sources, m["average_of"], m["repeats"], g
    )
    groups["coordinate Gaussian"] = mem.coordinate_gaussian(sources, m["repeats"], g)
    controls = load_tensors(controls_path, check_finite=False)
    for name, rows in controls.items():
        if name.endswith("_params"):
            groups[f"control: {name.removesuffix('_params')}"] = rows

    res = evaluate_groups(
        model,
        subset,
        groups,
        {s: (splits.images(s), splits.labels(s)) for s in ("val", "test")},
        device,
        e["batch_size"],
        e["sets_per_batch"],
        cfg["precision"],
    )
    acc = {key: value[0] for key, value in res.items()}
    preds = {name: res[name, "test"][1] for name in groups}
    labels = splits.labels("test")
    models = mem.novelty(groups, preds, labels, "source", lambda r: (r - mean) / std)
    models.insert(
        2,
        "finite",
        pd.concat([pd.Series(finite_rows(r).tolist()) for r in groups.values()], ignore_index=True),
    )
    models.insert(3, "val_acc", torch.cat([acc[n, "val"] for n in groups]).tolist())
    models.insert(4, "test_acc", torch.cat([acc[n, "test"] for n in groups]).tolist())
    table = mem.summary(models)
    save_table(models, out_models)
    save_table(table, out_summary, out_summary_md, floatfmt=".4g")
    sim = {
        "source_source": wrong_prediction_iou(preds["source"], preds["source"], labels),
        "pdiff_pdiff": wrong_prediction_iou(preds["p-diff"], preds["p-diff"], labels),
        "pdiff_source": wrong_prediction_iou(preds["p-diff"], preds["source"], labels),
    }
    save_tensors(sim, out_similarity)
    similarity_scatter(models, out_scatter, title)
    ae = NoisyAutoencoder.load(ae_path)
    noisy = f"noise x{m['tsne_noise']} std"
    with torch.no_grad():
        latents = {
            n: ae.encode(((groups[n] - mean) / std)[finite_rows(groups[n])])
            for n in ("source", "p-diff", noisy)
            if n in groups
        }
    latent_tsne(latents, seed, out_tsne, title)
    log("\n" + table.to_markdown(index=False, floatfmt=".4g"))
    return table


def similarity_by_k(
    ks: list[int], *, prediction_files: list[str], out_csv: str, out_md: str, out_png: str
) -> pd.DataFrame:
    """Stage similarity_by_k: range of generated models' max similarity to their K sources."""
    from pdiff.plots import similarity_range_by_k
    from pdiff.similarity import max_similarity, wrong_prediction_iou

    rows = []
    for k, path in zip(ks, prediction_files, strict=True):
        p = load_tensors(path)
        gen = p["generated_predictions"]
        gen = gen[(gen >= 0).all(1)]
        best = max_similarity(wrong_prediction_iou(gen, p["source_predictions"], p["test_labels"]))
        rows.append(
            {
                "k": k,
                "max_sim_min": best.min().item(),
                "max_sim_median": best.median().item(),
                "max_sim_max": best.max().item(),
            }
        )
    table = pd.DataFrame(rows).groupby("k", as_index=False).mean()
    save_table(table, out_csv, out_md, floatfmt=".4f")
    similarity_range_by_k(table, out_png)
    return table
