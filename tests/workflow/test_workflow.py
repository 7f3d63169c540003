"""The real Snakemake pipeline, end to end on the tiny config, in a temporary folder."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from helpers import CORES, REPO, SNAKEMAKE, TINY, copy_run, shared, snakemake
from safetensors.torch import load_file

from pdiff.evaluation import accuracy
from pdiff.networks import configured_network
from pdiff.runtime import HOLD_ENV
from pdiff.subset import ParameterSubset

SAMPLES = "results/tiny/seed0/last_two_bn/k16/noise-both/ldm-conv/ddpm-100"


def test_default_config_dry_runs(tmp_path):
    out = snakemake(
        tmp_path, "--configfile", str(REPO / "config.yaml"), "-n", "--quiet", "rules"
    ).stdout
    for rule in (
        "prepare_data",
        "train_base",
        "collect_checkpoints",
        "param_matrix",
        "train_ae",
        "train_ldm",
        "generate",
        "evaluate",
        "summarize",
    ):
        assert rule in out


@pytest.mark.parametrize(
    "experiment",
    sorted(
        p.name
        for p in (REPO / "experiments").glob("*.yaml")
        if p.name not in ("paper.yaml", "paper_table.yaml")
    ),
)
def test_every_experiment_file_dry_runs(tmp_path, experiment):
    """Each experiment as its header says to run it (paper.yaml runs only with a task and a
    network, and paper_table.yaml with its target: test_tasks.py dry-runs every cell)."""
    shutil.copy(REPO / "config.yaml", tmp_path)  # as in the repository: loaded first
    out = snakemake(
        tmp_path,
        "--configfile",
        str(REPO / "experiments" / experiment),
        "-n",
        "--quiet",
        "rules",
    )
    assert "train_ldm" in out.stdout + out.stderr


def test_an_unnamed_variant_of_the_default_stops_before_any_job(tmp_path):
    default = ("--configfile", str(REPO / "config.yaml"))
    proc = snakemake(tmp_path, *default, "-n", "--config", "location=head", check=False)
    assert proc.returncode != 0
    assert "would overwrite the default experiment's" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()
    named = snakemake(
        tmp_path,
        *default,
        "-n",
        "--config",
        "location=head",
        "experiment=mine",
        "generate={n: 20}",
        "ae={lr: 1e-4}",
    )
    assert "results/mine/" in named.stdout + named.stderr


@pytest.mark.slow
def test_tiny_pipeline_writes_every_artifact(tiny_run):
    res = tiny_run / "results" / "tiny"
    run = res / "seed0" / "last_two_bn"
    variant = run / "k16" / "noise-both"
    samples = variant / "ldm-conv" / "ddpm-100"
    collection = shared(tiny_run, "collect", "seed0/last_two_bn/collect-16")
    assert len(list((collection / "checkpoints").glob("*.safetensors"))) == 16
    ckpts = pd.read_csv(collection / "checkpoints.csv")
    assert len(ckpts) == 16 and ckpts.test_acc.min() > 30  # 1 epoch: about 43%
    base = load_file(shared(tiny_run, "base", "seed0/base.safetensors"))
    assert json.loads(shared(tiny_run, "base", "seed0/base.json").read_text())["test_acc"] > 30
    layout = json.loads((run / "k16" / "layout.json").read_text())
    matrix = load_file(run / "k16" / "param_matrix.safetensors")
    assert matrix["matrix"].shape == (16, layout["dim"])
    for path in (variant / "ae.safetensors", variant / "ldm-conv" / "ldm.safetensors"):
        assert load_file(path)
    generated = load_file(samples / "generated.safetensors")["params"]
    assert generated.shape == (8, layout["dim"]) and torch.isfinite(generated).all()
    evals = pd.read_csv(samples / "evaluation.csv")
    assert evals.group.value_counts().to_dict() == {
        "source": 16,
        "generated": 8,
        "average": 1,
        "rebuilt": 16,
        "gaussian_coordinate": 8,
        "gaussian_full": 8,
    }
    preds = load_file(samples / "predictions.safetensors")
    assert preds["generated_predictions"].shape == (8, 1000)
    table = pd.read_csv(res / "main_table.csv")
    assert table["seed 0"].notna().all()
    assert {"generated_best", "generated_val_chosen", "rebuilt_mean", "overfit_gap"} <= set(
        table.row
    )  # short ids in the CSV; the words only in the Markdown
    assert "p-diff, chosen on validation (honest)" in (res / "main_table.md").read_text()
    # a generated set loads into the real network and scores there what evaluate recorded
    cfg = {
        "data": {"name": "fashion_mnist"},
        "network": {"name": "small_cnn", "kwargs": {"channels": [8, 16, 16], "hidden": 16}},
    }
    from pdiff.data import load_splits

    splits = load_splits(str(shared(tiny_run, "data", "data.safetensors")))
    model = configured_network(cfg, splits)
    model.load_state_dict(base)
    subset = ParameterSubset.from_dict(layout)
    model.load_state_dict(subset.unflatten(generated[3]), strict=False)
    with torch.no_grad():
        logits = model.eval()(splits.images("test"))
    row = evals[(evals.group == "generated") & (evals["index"] == 3)].test_acc.item()
    acc = accuracy(logits.argmax(1)[None], splits.labels("test")).item()
    assert acc == pytest.approx(row, abs=1e-6)
    # no pickles anywhere
    suffixes = {
        p.suffix for p in res.parent.rglob("*") if p.is_file() and p.name != ".snakemake_timestamp"
    }
    assert suffixes <= {".safetensors", ".csv", ".json", ".md", ".png", ".log", ".tsv", ".html"}


@pytest.mark.slow
def test_every_group_is_scored_as_a_plain_loop_over_its_split_scores_it(tiny_run):
    """evaluation.csv against plain torch, group by group: the weight average is the mean of
    all K sources, the rebuilt rows are the AE's reconstructions of the sources it names,
    the generated rows the generate rule's; test_acc on the test split and its labels,
    val_acc on the validation split."""
    from pdiff.autoencoder import NoisyAutoencoder
    from pdiff.data import load_splits

    res = tiny_run / "results/tiny"
    run = res / "seed0/last_two_bn/k16"
    evals = pd.read_csv(tiny_run / SAMPLES / "evaluation.csv").set_index(["group", "index"])
    splits = load_splits(str(shared(tiny_run, "data", "data.safetensors")))
    cfg = {"network": {"name": "small_cnn", "kwargs": {"channels": [8, 16, 16], "hidden": 16}}}
    base = shared(tiny_run, "base", "seed0/base.safetensors")
    model = configured_network(cfg, splits, str(base)).eval()
    subset = ParameterSubset.from_dict(json.loads((run / "layout.json").read_text()))
    t = load_file(run / "param_matrix.safetensors")
    picked = load_file(tiny_run / SAMPLES / "predictions.safetensors")["rebuilt_sources"]
    ae = NoisyAutoencoder.load(run / "noise-both/ae.safetensors")
    with torch.no_grad():
        rebuilt = ae((t["matrix"][picked] - t["mean"]) / t["std"]) * t["std"] + t["mean"]
    generated = load_file(tiny_run / SAMPLES / "generated.safetensors")["params"]
    checks = [
        ("average", 0, t["matrix"].mean(0)),
        ("rebuilt", int(picked[1]), rebuilt[1]),
        ("generated", 5, generated[5]),
    ]
    for group, index, row in checks:
        model.load_state_dict(subset.unflatten(row), strict=False)
        for split in ("test", "val"):
            with torch.no_grad():
                preds = model(splits.images(split)).argmax(1)
            acc = (preds == splits.labels(split)).float().mean().item() * 100
            assert evals.loc[(group, index), f"{split}_acc"] == pytest.approx(acc, abs=1e-4), (
                group,
                split,
            )
    # the AE does not rebuild its sources exactly: their rebuilt copies score otherwise
    source_acc = evals.loc["source"].test_acc.to_numpy()[picked.numpy()]
    assert (evals.loc["rebuilt"].test_acc.to_numpy() != source_acc).any()


@pytest.mark.slow
def test_normalization_round_trips_on_the_tiny_runs_artifacts(tiny_run):
    """The matrix's statistics are the sources' own, per tensor, and undo exactly; the
    LDM's latent statistics are those of the AE's latents of the normalized sources, which
    they bring to mean 0 and std 1 per latent coordinate (ldm.latent_norm: coordinate)."""
    from pdiff.autoencoder import NoisyAutoencoder
    from pdiff.diffusion import latent_stats
    from pdiff.generator import TrainedLDM
    from pdiff.subset import normalization_stats

    run = tiny_run / "results/tiny/seed0/last_two_bn/k16"
    t = load_file(run / "param_matrix.safetensors")
    subset = ParameterSubset.from_dict(json.loads((run / "layout.json").read_text()))
    normalized = (t["matrix"] - t["mean"]) / t["std"]
    torch.testing.assert_close(normalized * t["std"] + t["mean"], t["matrix"])
    for got, want in zip(
        (t["mean"], t["std"]), normalization_stats(t["matrix"], subset), strict=True
    ):
        torch.testing.assert_close(got, want)
    assert len(t["std"].unique()) == len(subset.names)  # one scale per tensor
    ae = NoisyAutoencoder.load(run / "noise-both/ae.safetensors")
    ldm = TrainedLDM.load(run / "noise-both/ldm-conv/ldm.safetensors")
    with torch.no_grad():
        latents = ae.encode(normalized)
    mean, std = latent_stats(latents, "coordinate")
    torch.testing.assert_close(ldm.latent_mean, mean)
    torch.testing.assert_close(ldm.latent_std, std)
    unit = (latents - ldm.latent_mean) / ldm.latent_std
    torch.testing.assert_close(unit.mean(0), torch.zeros_like(mean), atol=1e-5, rtol=0)
    torch.testing.assert_close(unit.std(0), torch.ones_like(std), atol=1e-4, rtol=0)
    # the DDPM learned that unit scale: its draws (saved beside the generated rows, brought
    # back to the AE's scale) are there too (measured: mean |0.19|, std 0.91; an LDM of 200
    # steps drew at std 23, one trained on raw latents at their offset of 2.6 stds)
    drawn = load_file(tiny_run / SAMPLES / "generated.safetensors")["latents"]
    unit = (drawn - ldm.latent_mean) / ldm.latent_std
    assert unit.mean(0).abs().mean() < 0.5 and 0.5 < unit.std(0).mean() < 1.5, unit.std(0)


@pytest.mark.slow
def test_tiny_generated_sets_work_like_their_sources_and_are_not_one_point(tiny_run):
    """What a useless generator would fail: decoding to the sources' mean (no spread),
    dropping the latent scale or swapping mean and std (accuracy gone). Measured on the tiny
    run: sources mean 43.2, generated mean 43.3 (8 sets, 800 LDM steps); median pairwise
    distance of generated sets 0.26 vs the sources' 0.34; median distance to the weight
    average 0.17 vs the sources' 0.24."""
    run = tiny_run / "results/tiny/seed0/last_two_bn/k16"
    evals = pd.read_csv(tiny_run / SAMPLES / "evaluation.csv")
    acc = evals.groupby("group").test_acc
    assert acc.mean()["generated"] >= acc.mean()["source"] - 3, acc.describe()
    assert acc.min()["generated"] >= acc.mean()["source"] - 10, acc.describe()
    sources = load_file(run / "param_matrix.safetensors")["matrix"]
    generated = load_file(tiny_run / SAMPLES / "generated.safetensors")["params"]
    spread = torch.pdist(generated).median() / torch.pdist(sources).median()
    assert 0.25 < spread < 4, spread
    average = sources.mean(0, keepdim=True)
    to_average = torch.cdist(generated, average).median() / torch.cdist(sources, average).median()
    assert 0.25 < to_average < 4, to_average


def _safetensors(workdir):
    res = workdir / "results"
    return {p.relative_to(res): p.read_bytes() for p in sorted(res.rglob("*.safetensors"))}


def _planned_rules(workdir, *args):
    """The rules a dry run of `args` in `workdir` would run."""
    proc = snakemake(workdir, *args, "-n", "--quiet", "rules")
    return {
        line.split()[0]
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and line.split()[-1].isdigit() and line.split()[0] != "total"
    }


@pytest.mark.slow
def test_a_second_run_does_nothing_and_a_killed_one_resumes_to_the_same_bytes(tiny_run, tmp_path):
    """On a copy of the tiny run: a second run has nothing to do; another experiment that
    changes only the AE plans no data, base or collection job; with the AE deleted, only
    the AE and what follows it are planned; one SIGINT to Snakemake alone in the middle of
    train_ae ends the run and its job within a minute (Snakemake by itself waits for running
    jobs to finish); the rerun redoes no finished rule, and every safetensors file equals the
    first run's. train_ae holds (PDIFF_TEST_HOLD, ten minutes) until the interrupt, so it
    lands inside it."""
    copy_run(tiny_run, tmp_path)
    args = ("--configfile", str(TINY))
    dry = snakemake(tmp_path, *args, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr
    res = tmp_path / "results" / "tiny"
    ae = res / "seed0/last_two_bn/k16/noise-both/ae.safetensors"
    # another experiment that changes only the AE reuses the data, base and collection
    other = _planned_rules(tmp_path, *args, "--config", "experiment=other", "ae={noise: none}")
    later = {"train_ae", "train_ldm", "generate", "evaluate", "summarize", "html_report", "all"}
    assert other == {"param_matrix", *later}
    # and its plan prices its AE with the tiny run's
    plan = subprocess.run(
        [sys.executable, "-m", "pdiff.plan", "--snakefile", str(REPO / "Snakefile"), *args,
         "--config", "experiment=other", "ae={noise: none}"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    row = next(line for line in plan.splitlines() if line.startswith("| train_ae "))
    assert "median of 1, other experiments" in row and "About " in plan
    assert "prepare_data" not in plan and "never measured" not in plan
    ae.unlink()
    assert _planned_rules(tmp_path, *args) == later
    marker = tmp_path / "train_ae.started"
    env = {**os.environ, HOLD_ENV: f"train_ae:{marker}"}
    proc = subprocess.Popen(
        [*SNAKEMAKE, "--directory", str(tmp_path), "--cores", CORES, *args],
        start_new_session=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None and time.time() < deadline, "train_ae never started"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGINT)  # Snakemake only, not its jobs
    try:
        proc.wait(timeout=60)
        with pytest.raises(ProcessLookupError):  # no job of the run is left running
            os.killpg(proc.pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert not ae.exists()
    base = shared(tmp_path, "base", "seed0/base.safetensors")
    before = base.stat().st_mtime_ns
    snakemake(tmp_path, *args, "--unlock")
    out = snakemake(tmp_path, *args)
    assert "rule train_ae" in out.stdout + out.stderr
    assert "rule train_base" not in out.stdout + out.stderr
    assert base.stat().st_mtime_ns == before
    assert not list(res.rglob("*.tmp"))
    final = (res / "main_table.csv").read_text()
    assert final == (tiny_run / "results/tiny/main_table.csv").read_text()
    first, second = _safetensors(tiny_run), _safetensors(tmp_path)
    assert len(second) > 10 and second.keys() == first.keys()
    assert [str(k) for k in second if first[k] != second[k]] == []


@pytest.mark.slow
@pytest.mark.extra  # the whole network at tiny size is also tiny_runs'; this adds the chunked AE
def test_tiny_whole_network_is_generated_near_its_sources(tmp_path):
    """Every parameter of the tiny network (6,114) generated at once with the chunked AE.
    Measured at this size: sources mean 51.9 (they spread from 62 to 45 over collection),
    generated mean 49.1 (8 sets), rebuilt 52.6; a generator that lost the sources' position
    in latent space lands near chance (10%)."""
    snakemake(tmp_path, "--configfile", str(TINY), str(TINY.with_name("tiny_whole.yaml")))
    evals = pd.read_csv(
        tmp_path
        / "results/tiny_whole/seed0/whole/k16/noise-both/ldm-conv"
        / "ddpm-100/evaluation.csv"
    )
    acc = evals.groupby("group").test_acc
    assert evals.finite.all()
    assert acc.mean()["generated"] >= acc.mean()["source"] - 5, acc.describe()
    assert acc.min()["generated"] > 30, acc.describe()


@pytest.mark.slow
def test_exported_models_score_their_evaluation_rows_and_python_sampling_matches(
    tiny_run, tmp_path
):
    """`snakemake export`, `pdiff.load_model` and `ParameterGenerator` on the tiny run."""
    import pdiff
    from pdiff.data import load_splits

    run = copy_run(tiny_run, tmp_path)
    snakemake(run, "export", "--configfile", str(TINY), "--config", "export={top: 3}")
    export = run / SAMPLES / "export"
    models = pd.read_csv(export / "models.csv")
    evals = pd.read_csv(run / SAMPLES / "evaluation.csv")
    generated = evals[evals.group == "generated"]
    assert (
        models.generated_index.tolist()
        == generated.sort_values(["val_acc", "index"], ascending=[False, True])["index"]
        .head(3)
        .tolist()
    )
    splits = load_splits(str(shared(run, "data", "data.safetensors")))
    for row in models.itertuples():
        model = pdiff.load_model(export / row.file)
        with torch.no_grad():
            preds = model(splits.images("test")).argmax(1)
        acc = accuracy(preds[None], splits.labels("test")).item()
        expected = generated[generated["index"] == row.generated_index].test_acc.item()
        assert acc == pytest.approx(expected, abs=1e-6)
        assert row.test_acc == round(expected, 4)  # models.csv: no float32 noise
    assert "pdiff.load_model" in (export / "README.md").read_text()
    # docs/using_models.md's scoring example, run on this export: it prints models.csv's number
    doc = (REPO / "docs/using_models.md").read_text()
    code = doc.split("<!-- example: scoring")[1].split("```python\n")[1].split("```")[0]
    first = models.iloc[0]
    code = code.replace('"results/fmnist_small_cnn/', '"results/tiny/')
    code = code.replace("last_two_bn/k200/", "last_two_bn/k16/").replace("ddpm-1000", "ddpm-100")
    code = code.replace("model_021.safetensors", first.file)
    printed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=run
    ).stdout
    assert printed.strip() == f"test accuracy {first.test_acc:.2f}%"
    # the exported generator, alone in another folder: the generate rule's rows, for the same
    # seed and the variant's sampler, and networks that score what the evaluation says
    alone = shutil.copytree(export / "generator", tmp_path / "elsewhere")
    gen = pdiff.ParameterGenerator.load(alone)
    rows = gen.sample(8, seed=0)
    assert torch.equal(rows, load_file(run / SAMPLES / "generated.safetensors")["params"])
    with torch.no_grad():
        preds = gen.modules(rows[5:6])[0](splits.images("test")).argmax(1)
    expected = generated[generated["index"] == 5].test_acc.item()
    assert accuracy(preds[None], splits.labels("test")).item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.slow
def test_the_main_run_collects_collect_k_and_a_larger_k_extends_it(tiny_run, tmp_path):
    """collect.k = 8 with K = 16 in the grid: the main run collects 8; the K = 16 matrix
    continues that collection for 8 more steps, and the 16 checkpoints equal, byte for byte,
    those of the tiny run's uninterrupted 16-step collection."""
    ext = tmp_path / "ext.yaml"
    ext.write_text("experiment: tiny\ncollect: {k: 8}\nablations: {k: [8, 16]}\n")
    args = ("--configfile", str(TINY), str(ext))
    copy_run(tiny_run, tmp_path)  # its data and base; its collection is another collect.k's
    run = tmp_path / "results/tiny/seed0/last_two_bn"
    shutil.rmtree(run / "k16")
    fresh = shared(tiny_run, "collect", "seed0/last_two_bn/collect-16")
    plan = snakemake(tmp_path, *args, "-n")
    assert "collect-8/checkpoints.csv" in plan.stdout and "collect-16" not in plan.stdout
    assert "rule train_base" not in plan.stdout
    snakemake(tmp_path, *args, "--", str(run.relative_to(tmp_path) / "k8/layout.json"))
    (folder,) = (
        f for f in (tmp_path / "results/shared").glob("collect-*") if f.name != fresh.parts[-4]
    )
    collection = folder / "seed0/last_two_bn"
    first = {p.name: p.stat().st_mtime_ns for p in (collection / "collect-8/checkpoints").iterdir()}
    snakemake(tmp_path, *args, "--", str(run.relative_to(tmp_path) / "k16/layout.json"))
    assert {
        p.name: p.stat().st_mtime_ns for p in (collection / "collect-8/checkpoints").iterdir()
    } == first  # not redone
    run = collection
    files = sorted((run / "collect-16/checkpoints").iterdir())
    assert [f.name for f in files] == sorted(p.name for p in (fresh / "checkpoints").iterdir())
    assert all(f.read_bytes() == (fresh / "checkpoints" / f.name).read_bytes() for f in files)
    extended, whole = (pd.read_csv(d / "checkpoints.csv") for d in (run / "collect-16", fresh))
    pd.testing.assert_frame_equal(extended, whole)
    log = tmp_path / "results/shared/logs" / folder.name / "seed0/last_two_bn/collect-16"
    text = (log / "checkpoints.log").read_text()
    assert "8 kept from" in text and "continuing" in text and "collect-8" in text
