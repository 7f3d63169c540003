"""The paper's experiments (experiments/): every cell of the main table dry-runs, every
architecture builds and finds its layers, and a ResNet-18 cell runs end to end on small
CIFAR-10 files through `snakemake paper_table`, as the same jobs as when it runs alone."""

import pandas as pd
import pytest
import torch
import yaml
from fake_datasets import write_cifar
from helpers import REPO, snakemake

from pdiff.config import layered_config, read_yaml
from pdiff.data import Splits
from pdiff.networks import ARCHITECTURES, configured_network
from pdiff.subset import ParameterSubset

EXPERIMENTS = REPO / "experiments"
PAPER, TABLE = EXPERIMENTS / "paper.yaml", EXPERIMENTS / "paper_table.yaml"
TASKS = sorted(p.stem for p in (EXPERIMENTS / "tasks").glob("*.yaml"))
NETS = sorted(p.stem for p in (EXPERIMENTS / "nets").glob("*.yaml"))


def _cell(task, net, top=None):
    return layered_config(
        {},
        [PAPER, EXPERIMENTS / "tasks" / f"{task}.yaml", EXPERIMENTS / "nets" / f"{net}.yaml"],
        top,
    )


def test_the_table_lists_every_task_and_net_file():
    grid = read_yaml(TABLE)["paper_table"]
    assert sorted(grid["tasks"]) == TASKS and sorted(grid["nets"]) == NETS
    assert len(TASKS) == 8 and len(NETS) == 6


def test_every_cell_of_the_paper_table_dry_runs(tmp_path):
    proc = snakemake(tmp_path, "--configfile", str(TABLE), "-n", "paper_table", "--quiet", "rules")
    jobs = {
        line.split()[0]: int(line.split()[-1])
        for line in proc.stdout.splitlines()
        if line.strip() and line.split()[-1].isdigit()
    }
    for task in TASKS:
        for net in NETS:
            name = _cell(task, net)["experiment"]
            assert name == f"{task}_{net}"
            assert jobs[f"{name}_summarize"] == 1
            assert jobs[f"{name}_evaluate"] == 3  # one per seed
    assert jobs["paper_table"] == 1
    # a task's networks share its data file (results/shared/): one job per data set
    assert sum(n for rule, n in jobs.items() if rule.endswith("prepare_data")) == len(TASKS)


def test_the_table_without_a_grid_says_which_file_gives_it(tmp_path):
    proc = snakemake(
        tmp_path, "--configfile", str(REPO / "config.yaml"), "-n", "paper_table", check=False
    )
    assert proc.returncode != 0 and "experiments/paper_table.yaml" in proc.stdout + proc.stderr


def test_one_cell_runs_alone_with_three_config_files(tmp_path):
    out = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        str(PAPER),
        str(EXPERIMENTS / "tasks" / "cifar100.yaml"),
        str(EXPERIMENTS / "nets" / "resnet18.yaml"),
    ).stdout
    assert (
        "results/cifar100_resnet18/seed2/last_two_norm/k200/noise-both/ldm-paper/ddpm-1000" in out
    )


def _is_norm(module):
    return isinstance(module, torch.nn.modules.batchnorm._BatchNorm | torch.nn.LayerNorm)


@pytest.mark.parametrize("net", NETS)
def test_each_architecture_builds_and_generates_its_last_two_norm_layers(net):
    if ARCHITECTURES[net][1][0] == "timm":
        pytest.importorskip("timm", reason=f"{net} needs the optional timm (pip install timm)")
    cfg = _cell("cifar100", net, {"network": {"pretrained": None}})  # no download here
    splits = Splits({}, {"num_classes": 100, "channels": 3, "image_size": 32, "storage": "uint8"})
    # On the meta device: names, shapes and a forward pass, without initializing 88M weights.
    with torch.device("meta"):
        model = configured_network(cfg, splits).eval()
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    subset = ParameterSubset.from_model(model, cfg["locations"][cfg["location"]])
    owners = list(dict.fromkeys(name.rsplit(".", 1)[0] for name in subset.names))
    norms = [name for name, m in model.named_modules() if _is_norm(m)]
    assert owners == norms[-2:], f"{net}: {owners} are not its last two norms {norms[-2:]}"


@pytest.mark.parametrize("net", [n for n in NETS if ARCHITECTURES[n][1][0] == "torchvision"])
def test_imagenet_weights_of_each_torchvision_architecture_are_known(net):
    import torchvision

    weights = torchvision.models.get_model_weights(ARCHITECTURES[net][1][1]).DEFAULT
    assert len(weights.meta["categories"]) == 1000  # resolved by name, nothing downloaded


SMALL = {  # the paper's settings at a scale this CPU runs in a minute, by config alone
    "seeds": [0],
    "device": "cpu",
    "network": {"pretrained": None, "input_size": 16},
    "data": {"download": False, "checksums": False, "val_size": 32},
    "train_base": {"epochs": 1, "batch_size": 32},
    "collect": {"k": 4, "batch_size": 32},
    "ablations": {"k": [4]},
    "ae": {
        "channels": [8, 16],
        "latent_channels": 2,
        "latent_length": 8,
        "steps": 30,
        "log_every": 10,
        "overfit_check_steps": 30,
    },
    "ldm": {"channels": 16, "blocks": 1, "time_dim": 16, "steps": 30, "log_every": 10},
    "generate": {"n": 4, "sampler": "ddim-5"},
    "evaluate": {"batch_size": 64, "sets_per_batch": 4},
    # the official generator, narrowed (paper.yaml's default)
    "denoisers": {
        "conv": {"kind": "conv"},
        "transformer": {"kind": "transformer"},
        "paper": {
            "layer_channels": [1, 8, 16, 8, 1],
            "steps": 30,
            "log_every": 10,
            "ae": {"channels": [8, 16], "latent_length": 16, "steps": 30, "log_every": 10},
        },
    },
}


@pytest.mark.slow
@pytest.mark.extra  # each architecture's last two norm layers: also the test above, no Snakemake
def test_a_resnet18_cell_runs_end_to_end_through_the_paper_table(tmp_path):
    write_cifar(tmp_path / "cifar", per_batch=32, test=64)
    small = tmp_path / "small.yaml"
    small.write_text(
        yaml.safe_dump({**SMALL, "data": {**SMALL["data"], "root": str(tmp_path / "cifar")}})
    )
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"paper_table": {"tasks": ["cifar10"], "nets": ["resnet18"]}}))
    snakemake(tmp_path, "paper_table", "--configfile", str(TABLE), str(grid), str(small))

    res = tmp_path / "results" / "cifar10_resnet18"
    layout = yaml.safe_load((res / "seed0/last_two_norm/k4/layout.json").read_text())
    assert layout["names"] == [
        "layer4.1.bn1.weight",
        "layer4.1.bn1.bias",
        "layer4.1.bn2.weight",
        "layer4.1.bn2.bias",
    ]
    table = pd.read_csv(res / "main_table.csv")
    # plumbing at toy size (4 checkpoints, 30 AE/LDM steps): every row filled, no quality bar
    assert table["seed 0"].iloc[:9].notna().all()
    wide = pd.read_csv(tmp_path / "results" / "paper_table.csv")
    assert (wide.task[0], wide.net[0]) == ("cifar10", "resnet18")
    best = "generated_best"
    assert wide[best][0] == table.set_index("row").loc[best, "mean over seeds"]
    assert "resnet18" in (tmp_path / "results" / "paper_table.md").read_text()
    # The same three files with the same settings, alone: the same jobs, all done already.
    proc = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        str(PAPER),
        str(EXPERIMENTS / "tasks" / "cifar10.yaml"),
        str(EXPERIMENTS / "nets" / "resnet18.yaml"),
        str(small),
    )
    assert "Nothing to be done" in proc.stdout + proc.stderr
