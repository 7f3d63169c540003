"""The real Snakemake pipeline, end to end on the tiny config, in a temporary folder."""

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest
import torch
from conftest import REPO, SNAKEMAKE, TINY, snakemake
from safetensors.torch import load_file

from pdiff.pipeline import _network
from pdiff.subset import ParameterSubset


def test_default_config_dry_runs(tmp_path):
    out = snakemake(tmp_path, "--configfile", str(REPO / "config.yaml"), "-n", "--quiet",
                    "rules").stdout
    for rule in ("prepare_data", "train_base", "collect_checkpoints", "param_matrix",
                 "train_ae", "train_ldm", "generate", "evaluate", "summarize"):
        assert rule in out


@pytest.mark.slow
def test_tiny_pipeline_writes_every_artifact(tiny_run):
    res = tiny_run / "results" / "tiny"
    run = res / "seed0" / "last_two_bn"
    variant = run / "k16" / "noise-both"
    samples = variant / "ldm-conv" / "ddpm-100"
    assert len(list((run / "checkpoints").glob("*.safetensors"))) == 16
    ckpts = pd.read_csv(run / "checkpoints.csv")
    assert len(ckpts) == 16 and ckpts.test_acc.between(0, 100).all()
    base = load_file(res / "seed0" / "base.safetensors")
    assert json.loads((res / "seed0" / "base.json").read_text())["test_acc"] > 10
    layout = json.loads((run / "k16" / "layout.json").read_text())
    matrix = load_file(run / "k16" / "param_matrix.safetensors")
    assert matrix["matrix"].shape == (16, layout["dim"])
    for path in (variant / "ae.safetensors", variant / "ldm-conv" / "ldm.safetensors"):
        assert load_file(path)
    generated = load_file(samples / "generated.safetensors")["params"]
    assert generated.shape == (8, layout["dim"]) and torch.isfinite(generated).all()
    evals = pd.read_csv(samples / "evaluation.csv")
    assert evals.group.value_counts().to_dict() == {"source": 16, "generated": 8, "average": 1,
                                                      "rebuilt": 16}
    preds = load_file(samples / "predictions.safetensors")
    assert preds["generated_predictions"].shape == (8, 1000)
    table = pd.read_csv(res / "main_table.csv")
    assert table["row"].str.startswith("p-diff").sum() == 2
    assert table["seed 0"].notna().all()
    assert {"AE-rebuilt sources mean (the decoder's ceiling)",
            "AE overfit check: one source rebuilt minus source (val acc points)",
            "latent std fed to the DDPM (before scaling to 1)"} <= set(table.row)
    # a generated set loads into the real network
    cfg = {"data": {"name": "fashion_mnist"}, "network": {"name": "small_cnn",
           "kwargs": {"channels": [8, 16, 16], "hidden": 16}}}
    from pdiff.data import load_splits
    model = _network(cfg, load_splits(str(res / "data.safetensors")))
    model.load_state_dict(base)
    subset = ParameterSubset.from_dict(layout)
    model.load_state_dict(subset.unflatten(generated[0]), strict=False)
    assert torch.equal(model.state_dict()["bn4.bias"], subset.unflatten(generated[0])["bn4.bias"])
    # no pickles anywhere
    suffixes = {p.suffix for p in res.rglob("*")
                if p.is_file() and p.name != ".snakemake_timestamp"}
    assert suffixes <= {".safetensors", ".csv", ".json", ".md", ".png", ".log", ".tsv"}


@pytest.mark.slow
def test_second_run_does_nothing_and_ldm_deletion_reruns_only_what_follows(tiny_run):
    args = ("--configfile", str(TINY))
    assert "Nothing to be done" in snakemake(tiny_run, *args, "-n").stdout + \
        snakemake(tiny_run, *args, "-n").stderr
    ldm = tiny_run / "results/tiny/seed0/last_two_bn/k16/noise-both/ldm-conv/ldm.safetensors"
    ldm.unlink()
    proc = snakemake(tiny_run, *args, "-n", "--quiet", "rules")
    out = proc.stdout + proc.stderr
    rules = {line.split()[0] for line in out.splitlines()
             if line.strip() and line.split()[-1].isdigit() and line.split()[0] != "total"}
    assert rules == {"train_ldm", "generate", "evaluate", "summarize", "all"}
    snakemake(tiny_run, *args)  # and really rerun it, which restores the same bytes
    assert ldm.exists()


def _safetensors(workdir):
    res = workdir / "results" / "tiny"
    return {p.relative_to(res): p.read_bytes() for p in sorted(res.rglob("*.safetensors"))}


@pytest.mark.slow
def test_killed_run_resumes_and_gives_byte_identical_artifacts(tiny_run, tmp_path):
    """A second run from a clean folder, SIGKILLed in the middle of train_ae and resumed:
    finished rules are not redone, and every safetensors file equals the first run's."""
    res = tmp_path / "results" / "tiny"
    ae_log = res / "logs/seed0/last_two_bn/k16/noise-both/ae.log"
    ae = res / "seed0/last_two_bn/k16/noise-both/ae.safetensors"
    proc = subprocess.Popen([*SNAKEMAKE, "--directory", str(tmp_path), "--cores", "2",
                             "--configfile", str(TINY)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (ae_log.exists() and "noise 'both'" in ae_log.read_text()):
        assert proc.poll() is None and time.time() < deadline, "train_ae never started"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not ae.exists(), "killed too late: train_ae had finished"
    base = res / "seed0/base.safetensors"
    before = base.stat().st_mtime_ns
    snakemake(tmp_path, "--configfile", str(TINY), "--unlock")
    out = snakemake(tmp_path, "--configfile", str(TINY))
    assert "rule train_base" not in out.stdout + out.stderr
    assert base.stat().st_mtime_ns == before
    assert not list(res.rglob("*.tmp"))
    final = (res / "main_table.csv").read_text()
    assert final == (tiny_run / "results/tiny/main_table.csv").read_text()
    first, second = _safetensors(tiny_run), _safetensors(tmp_path)
    assert len(second) > 10 and second.keys() <= first.keys()
    assert [str(k) for k in second if first[k] != second[k]] == []
