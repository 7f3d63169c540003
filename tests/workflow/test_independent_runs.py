"""Sources from independent runs, end to end at tiny size: R runs give R distinct bases,
alignment keeps every source's predictions, and the tables place the generated models
among the runs."""

import pandas as pd
import pytest
import torch
from helpers import TINY, shared, snakemake

from pdiff.data import load_splits
from pdiff.io import load_json, load_tensors
from pdiff.networks import configured_network
from pdiff.subset import ParameterSubset

RUNS = TINY.with_name("tiny_runs.yaml")
RESULTS = "results/tiny_runs"
SAMPLES = "seed0/whole/k16-align-weights/noise-both/ldm-conv/ddpm-100"


@pytest.mark.slow
def test_runs_are_collected_aligned_and_placed(tmp_path):
    target = f"{RESULTS}/{SAMPLES}/nearest_run.md"  # the align axis: a unit test's table
    snakemake(tmp_path, "all", target, "--configfile", str(TINY), str(RUNS))
    res = tmp_path / RESULTS
    base = shared(tmp_path, "base", "seed0")
    bases = [load_tensors(base / f) for f in ("base.safetensors", "base-run1.safetensors")]
    assert not torch.equal(bases[0]["conv1.weight"], bases[1]["conv1.weight"])

    collection = shared(tmp_path, "collect", "seed0/whole/collect-16")
    table = pd.read_csv(collection / "checkpoints.csv")
    assert table.run.tolist() == [0] * 8 + [1] * 8

    # alignment permutes run 1's rows, keeps run 0's, and every row's function
    aligned = load_tensors(res / "seed0/whole/k16-align-weights/param_matrix.safetensors")["matrix"]
    layout = load_json(res / "seed0/whole/k16-align-weights/layout.json")
    assert layout["runs"] == [0] * 8 + [1] * 8 and layout["align"] == "weights"
    subset = ParameterSubset.from_dict(layout)
    collected = collection / "checkpoints"
    files = [collected / name for name in layout["checkpoints"]]
    plain = torch.stack([subset.flatten(load_tensors(f)) for f in files])
    assert torch.equal(plain[:8], aligned[:8]) and not torch.equal(plain[8:], aligned[8:])
    cfg = {"network": {"name": "small_cnn", "kwargs": {"channels": [4, 8, 8], "hidden": 16,
                                                       "batchnorm": False}}}  # fmt: skip
    splits = load_splits(str(shared(tmp_path, "data", "data.safetensors")))
    net = configured_network(cfg, splits).eval()
    x = splits.images("test")[:200]
    for i in (8, 15):
        outputs = []
        for rows in (plain, aligned):
            net.load_state_dict(subset.unflatten(rows[i]))
            with torch.no_grad():
                outputs.append(net(x))
        torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-4)

    evals = pd.read_csv(res / SAMPLES / "evaluation.csv")
    assert {"average_run0", "average_run1"} <= set(evals.group)
    assert evals[evals.group == "generated"].run.isin([0, 1]).all()
    main = (res / "main_table.md").read_text()
    assert "run 1: sources mean" in main and "% between runs" in main
    assert "RUNS on seed 0" in main
    assert (res / SAMPLES / "nearest_run.png").stat().st_size > 0


def test_runs_of_a_subset_or_of_a_network_with_running_statistics_stop_before_any_job(
    tmp_path,
):
    for override in ("location=head", "network={kwargs: {batchnorm: true}}"):
        proc = snakemake(
            tmp_path, "-n", "--configfile", str(TINY), str(RUNS), "--config", override,
            check=False,
        )  # fmt: skip
        assert proc.returncode != 0
        out = proc.stdout + proc.stderr
        assert "collect.runs = 2" in out and "Job stats" not in out, out[-2000:]
