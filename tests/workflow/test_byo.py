"""The README's bring-your-own example, run as a user would: their training script writes
PyTorch checkpoints of their own network, and the pipeline takes it from there."""

import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from helpers import REPO, snakemake

EXAMPLE = REPO / "examples" / "byo"


@pytest.fixture(scope="module")
def byo(tmp_path_factory):
    work = tmp_path_factory.mktemp("byo")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(REPO)])}
    ckpts = work / "checkpoints"
    subprocess.run(
        [
            sys.executable,
            str(EXAMPLE / "train_checkpoints.py"),
            "--out",
            str(ckpts),
            "--k",
            "12",
            "--images",
            "3000",
            "--data",
            str(work / "data"),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    # Only sizes change: the example's own config, scaled down for the test.
    small = {
        "checkpoints": {"dir": str(ckpts)},
        "collect": {"k": 12},
        "ablations": {"k": [12]},
        "data": {"train_size": 2000, "val_size": 500, "test_size": 1000},
        "ae": {
            "channels": [8, 16],
            "latent_channels": 2,
            "latent_length": 8,
            "steps": 150,
            "overfit_check_steps": 50,
        },
        "ldm": {"channels": 16, "blocks": 1, "time_dim": 16, "steps": 150},
        "generate": {"n": 8, "sampler": "ddim-10"},
    }
    (work / "small.yaml").write_text(yaml.safe_dump(small))
    return work, env, ckpts


def run(work, env, *configs, check=True):
    return snakemake(
        work,
        "--configfile",
        str(EXAMPLE / "config.yaml"),
        *[str(c) for c in configs],
        check=check,
        env=env,
    )


def test_own_network_and_checkpoints_run_end_to_end(byo):
    work, env, ckpts = byo
    proc = run(work, env, work / "small.yaml")
    res = work / "results" / "byo_mlp"
    table = pd.read_csv(res / "main_table.csv").set_index("row")
    # The sources are the user's files, in name order, evaluated as they are.
    sources = pd.read_csv(res / "seed0" / "last_layers" / "collect-12" / "checkpoints.csv")
    assert sources.origin.tolist() == sorted(f.name for f in ckpts.iterdir())
    assert table.loc["source_best", "seed 0"] == sources.test_acc.max()
    assert sources.test_acc.min() > 50  # the user's model works, so the import kept its weights
    assert "rule train_base" not in proc.stdout + proc.stderr
    assert "rule collect_checkpoints" not in proc.stdout + proc.stderr


def test_checkpoints_that_disagree_stop_with_the_files_name(byo):
    work, env, ckpts = byo
    import torch

    bad = work / "bad"
    bad.mkdir()
    for f in sorted(ckpts.iterdir())[:12]:
        (bad / f.name).write_bytes(f.read_bytes())
    state = torch.load(bad / "step_0005.pt", weights_only=True)
    state["out.weight"] = state["out.weight"][:, :10]
    torch.save(state, bad / "step_0005.pt")
    (work / "bad.yaml").write_text(
        yaml.safe_dump({"checkpoints": {"dir": str(bad)}, "experiment": "byo_bad"})
    )
    proc = run(work, env, work / "small.yaml", work / "bad.yaml", check=False)
    assert proc.returncode != 0
    log = (work / "results/byo_bad/logs/seed0/last_layers/collect-12/checkpoints.log").read_text()
    assert "step_0005.pt: tensor 'out.weight' has shape (10, 10), step_0000.pt has (10, 64)" in log
    assert not list((work / "results/byo_bad").rglob("checkpoints"))


def test_exported_models_load_strictly_into_the_users_own_network(byo):
    """`snakemake export`: complete state dicts with the user's key names, loadable into a
    network of their own making with strict=True."""
    import sys

    import torch
    from safetensors.torch import load_file

    work, env, _ = byo
    snakemake(
        work,
        "export",
        "--configfile",
        str(EXAMPLE / "config.yaml"),
        str(work / "small.yaml"),
        "--config",
        "export={top: 3}",
        env=env,
    )
    export = next((work / "results/byo_mlp").rglob("export"))
    files = sorted(export.glob("model_*.safetensors"))
    assert len(files) == 3 and (export / "models.csv").exists()
    sys.path.insert(0, str(EXAMPLE))
    try:
        from byo_net import build

        net = build(hidden=64)
        net.load_state_dict(load_file(files[0]), strict=True)
        import pdiff

        loaded = pdiff.load_model(files[0])
        x = torch.randn(4, 1, 28, 28)
        assert torch.equal(loaded(x), net.eval()(x))
    finally:
        sys.path.remove(str(EXAMPLE))
