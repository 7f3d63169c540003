"""The ablation grid and the memorization analysis, end to end on the tiny config."""

import base64
import re

import pandas as pd
import pytest
from helpers import TINY, snakemake
from PIL import Image


@pytest.mark.slow
def test_ablation_tables_have_a_row_per_variant_below_the_sources(tiny_grid):
    res, _ = tiny_grid
    expected = {
        "k": ["8", "16"],
        "location": ["last_two_bn", "head"],
        "noise": ["none", "both"],
        "sampler": ["ddpm-100", "ddim-10"],
        "denoiser": ["conv", "transformer", "paper"],
        "timesteps": ["1000"],
    }
    for axis, values in expected.items():
        table = pd.read_csv(res / "ablations" / f"ablation_{axis}.csv", dtype={axis: str})
        assert table[axis].tolist() == ["sources (default)", *values]
        assert table[["best", "mean", "median", "val_chosen"]].notna().all().all()
        assert table[["average", "gaussian_full", "control_p5"]].notna().all().all()
        assert (table.best >= table["median"]).all()
        assert (res / "ablations" / f"ablation_{axis}.md").read_text().startswith("|")
        assert Image.open(res / "ablations" / f"ablation_{axis}.png").size[0] > 100
    # each row's own sources: the default K's row shares the top row's, the head row has its own
    k = pd.read_csv(res / "ablations" / "ablation_k.csv", dtype={"k": str}).set_index("k")
    assert (
        k.loc["16", ["sources_best", "sources_mean"]].tolist()
        == k.loc["sources (default)", ["best", "mean"]].tolist()
    )
    loc = pd.read_csv(res / "ablations" / "ablation_location.csv").set_index("location")
    head = pd.read_csv(res / "seed0/head/k16/noise-both/ldm-conv/ddpm-100/evaluation.csv")
    head_sources = head[head.group == "source"].test_acc
    assert loc.loc["head", "sources_mean"] == pytest.approx(head_sources.mean())
    assert loc.loc["head", "sources_best"] == pytest.approx(head_sources.max())


@pytest.mark.slow
def test_every_variant_generates_near_its_own_sources(tiny_grid):
    """At tiny size (16 sources near 43%, the head's near 50%, 8 generated sets, 800 LDM
    steps; 200 were too few: the head's generated mean was 35.9 against its sources' 50.3)."""
    res, _ = tiny_grid
    for axis in ("k", "location", "noise", "sampler", "denoiser"):
        table = pd.read_csv(res / "ablations" / f"ablation_{axis}.csv", dtype={axis: str})
        # the official generator at tiny size (100 steps) is test_official.py's
        rows = table[~table[axis].isin(["sources (default)", "paper"])]
        gap = rows.sources_mean - rows["mean"]
        assert (gap < 3).all(), rows[[axis, "mean", "sources_mean"]]


@pytest.mark.slow
def test_grid_shares_collection_and_ldm(tiny_grid):
    res, log = tiny_grid
    # one collection per location (2), one AE per (k, location, noise) variant (4, one shared)
    # and the official generator's own; one LDM per AE plus the transformer on the default
    # AE; sampler variants reuse the default LDM
    assert len(list(res.parent.joinpath("shared").rglob("checkpoints.csv"))) == 2
    assert len(list(res.rglob("ae.safetensors"))) == 5
    assert len(list(res.rglob("ldm.safetensors"))) == 6
    assert len(list(res.rglob("generated.safetensors"))) == 7


@pytest.mark.slow
def test_memorization_outputs(tiny_grid):
    res, _ = tiny_grid
    variant = res / "seed0/last_two_bn/k16/noise-both/ldm-conv/ddpm-100"
    table = pd.read_csv(variant / "memorization.csv")
    groups = table.group.tolist()
    assert groups[:2] == ["source", "p-diff"]
    assert {
        "noise x0.001 std",
        "noise 0.06 abs",
        "fine-tuned (3 steps)",
        "average of 4",
        "coordinate Gaussian",
        "control: gaussian_coordinate",
        "control: gaussian_full",
    } <= set(groups)
    assert table.max_sim_median.between(0, 1).all()
    # a barely perturbed copy of a source is closer to the sources than an average of them
    near = table.set_index("group").nearest_l2_median
    assert near["noise x0.001 std"] < near["average of 4"]
    models = pd.read_csv(variant / "memorization_models.csv")
    assert len(models) == table.n.sum()
    for png in ("memorization_scatter.png", "memorization_tsne.png"):
        assert Image.open(variant / png).size[0] > 100
    by_k = pd.read_csv(res / "memorization" / "similarity_by_k.csv")
    assert by_k.k.tolist() == [8, 16]
    md = (res / "memorization" / "similarity_by_k.md").read_text()
    assert "|   8 |" in md and "8.0" not in md  # K an integer
    assert (by_k.max_sim_min <= by_k.max_sim_max).all()


@pytest.mark.slow
def test_memorization_is_the_default_variant_only_and_the_report_has_every_part(tiny_grid):
    res, _ = tiny_grid
    run = res.parents[1]
    plan = snakemake(
        run, "memorization", "--configfile", str(TINY), "-n", "--forceall", "--quiet", "rules"
    )
    # the default variant's chain only: one AE and one LDM, not the K grid's
    rules = {
        line.split()[0]: int(line.split()[-1])
        for line in (plan.stdout + plan.stderr).splitlines()
        if line.strip() and line.split()[-1].isdigit()
    }
    assert rules["train_ae"] == 1 and rules["train_ldm"] == 1, rules
    snakemake(
        run, "results_so_far", "--report", str(run / "report.html"), "--configfile", str(TINY)
    )
    html = (run / "report.html").read_text()
    for part in ("main_table.csv", "ablation_k.csv", "memorization.csv", "similarity_by_k.csv"):
        assert part in html, part


@pytest.mark.slow
def test_an_exported_variant_records_its_own_denoiser_settings(tiny_grid):
    from pdiff.export import read_export

    res, _ = tiny_grid
    export = res / "seed0/last_two_bn/k16/noise-both/ldm-transformer/ddpm-100/export"
    snakemake(res.parents[1], str(export.relative_to(res.parents[1])), "--configfile", str(TINY))
    _, meta = read_export(sorted(export.glob("*.safetensors"))[0])
    assert meta["config"]["ldm"]["kind"] == "transformer"
    assert meta["config"]["ae"]["kind"] == "flat"


@pytest.mark.slow
def test_the_report_of_the_grid_shows_every_table_and_plot_made(tiny_grid):
    res, _ = tiny_grid
    page = (res / "report.html").read_text()
    assert "{{" not in page  # the captions' template values are filled in
    sections = re.findall(r'<h2 id="[^"]+">([^<]+)</h2>', page)
    assert sections == ["Main table", "Memorization", "Ablations", "Similarity by K"]
    tables = len(list((res / "ablations").glob("*.md"))) + 2  # main table, memorization
    assert page.count("<table>") >= tables
    plots = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    made = [*(res / "ablations").glob("*.png"), *res.rglob("memorization_*.png"),
            *(res / "memorization").glob("*.png")]  # fmt: skip
    assert len(plots) == len(made) and all(base64.b64decode(p)[:4] == b"\x89PNG" for p in plots)
