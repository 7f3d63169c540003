"""Sources from independent runs: alignment keeps every network's function, the config stops
what cannot run, and each generated model is placed among the runs (pdiff.alignment,
pdiff.runs)."""

import pandas as pd
import pytest
import torch

from pdiff.alignment import AlignmentError, align_rows, permutation_spec, permute, weight_matching
from pdiff.config import ConfigError, load_config
from pdiff.networks import small_cnn
from pdiff.preflight import check_runnable
from pdiff.reporting import ablation_table
from pdiff.runs import check_independent_runs, landing, nearest_runs, run_seed
from pdiff.subset import ParameterSubset


def _net(seed, batchnorm=False):
    torch.manual_seed(seed)
    model = small_cnn(channels=(4, 8, 8), hidden=16, batchnorm=batchnorm).eval()
    if batchnorm:  # running statistics that a wrong permutation would misplace
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("batchnorm", [False, True])
def test_aligned_networks_compute_the_same_function_and_come_closer(batchnorm):
    ref, other = _net(0, batchnorm), _net(1, batchnorm)
    spec = permutation_spec(other)
    perms = weight_matching(spec, ref.state_dict(), other.state_dict())
    assert any((p != torch.arange(len(p))).any() for p in perms.values())  # it did permute
    aligned = _net(2, batchnorm)
    aligned.load_state_dict(permute(spec, perms, other.state_dict()))
    x = torch.randn(32, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(aligned(x), other(x), rtol=1e-5, atol=1e-5)

    def distance(state):
        return sum((state[n] - ref.state_dict()[n]).pow(2).sum() for n in spec.axes)

    assert distance(aligned.state_dict()) < distance(other.state_dict())


def test_a_wrong_permutation_changes_the_function():
    """The check above can fail: permuting one layer's outputs alone breaks the network."""
    net = _net(0)
    spec = permutation_spec(net)
    perms = {p: torch.arange(n) for p, n in spec.sizes.items()}
    state = permute(spec, perms, net.state_dict())
    state["conv2.weight"] = state["conv2.weight"].flip(0)
    broken = _net(1)
    broken.load_state_dict(state)
    x = torch.randn(8, 1, 28, 28)
    with torch.no_grad():
        assert not torch.allclose(broken(x), net(x), atol=1e-3)


def test_aligned_rows_of_runs_keep_every_row_s_predictions():
    nets = [_net(s) for s in range(3)]
    subset = ParameterSubset.from_model(nets[0], ["*"])
    rows = torch.stack([subset.flatten(n.state_dict()) for n in nets])
    runs = torch.tensor([0, 1, 2])
    aligned = align_rows(nets[0], subset, rows, runs)
    torch.testing.assert_close(aligned[0], rows[0])  # the reference run is kept as it is
    x = torch.randn(16, 1, 28, 28)
    probe = _net(9)
    for row, net in zip(aligned[1:], nets[1:], strict=True):
        probe.load_state_dict(subset.unflatten(row))
        with torch.no_grad():
            torch.testing.assert_close(probe(x), net(x), rtol=1e-5, atol=1e-5)


def test_networks_alignment_cannot_permute_are_refused():
    import torchvision

    with pytest.raises(AlignmentError, match="sequential"):
        permutation_spec(torchvision.models.resnet18())
    seq = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    with pytest.raises(AlignmentError, match="LayerNorm"):
        permutation_spec(seq)


def test_runs_need_the_whole_network_and_no_running_statistics():
    net = _net(0)
    check_independent_runs(net, [n for n, _ in net.named_parameters()])
    with pytest.raises(ValueError, match="whole network"):
        check_independent_runs(net, ["head.weight", "head.bias"])
    bn = _net(0, batchnorm=True)
    with pytest.raises(ValueError, match="batchnorm: false"):
        check_independent_runs(bn, [n for n, _ in bn.named_parameters()])


def test_run_seeds_are_the_seed_for_run_0_and_distinct_otherwise():
    assert run_seed(3, 0) == 3
    seeds = {run_seed(s, r) for s in range(3) for r in range(1, 5)}
    assert len(seeds) == 12 and not seeds & {0, 1, 2}


def _config(**overrides):
    return load_config("config.yaml", {"experiment": "x", **overrides})


RUNS = dict(
    network={"kwargs": {"batchnorm": False}},
    collect={"runs": 4},
    location="whole",
    locations={"whole": ["*"]},
    ablations={"k": [200], "location": ["whole"], "align": ["none", "weights"]},
)


def test_a_config_of_runs_passes_and_each_misuse_stops_with_the_fix():
    check_runnable(_config(**RUNS))
    with pytest.raises(ConfigError, match="a subset needs one shared base"):
        subset = {"location": "head", "ablations": {"k": [200], "align": ["weights"]}}
        check_runnable(_config(**{**RUNS, **subset}))
    with pytest.raises(ConfigError, match="batchnorm: false"):
        check_runnable(_config(**{**RUNS, "network": {}}))
    with pytest.raises(ConfigError, match="multiple of the runs"):
        _config(**{**RUNS, "collect": {"runs": 3}})
    with pytest.raises(ConfigError, match="multiple of the runs"):
        _config(**{**RUNS, "ablations": {"k": [200, 400]}})
    with pytest.raises(ConfigError, match="collect.runs is 1"):
        _config(align="weights")


def test_nearest_runs_and_landing_place_models_among_the_runs():
    sources = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    runs = torch.tensor([0, 0, 1, 1])
    labels = torch.tensor([0, 1, 2, 3])
    src_preds = torch.tensor([[0, 1, 2, 0], [0, 1, 2, 0], [0, 0, 2, 3], [0, 0, 2, 3]])
    rows = torch.tensor([[0.0, 0.1], [5.0, 4.9], [2.5, 2.5], [float("nan"), 0.0]])
    preds = torch.tensor([[0, 1, 2, 0], [0, 0, 2, 3], [1, 0, 0, 0], [0, 0, 0, 0]])
    near = nearest_runs(rows, preds, sources, src_preds, runs, labels)
    assert near.run.tolist()[:2] == [0, 1] and near.run.iloc[3] == -1
    assert near.run_by_predictions.tolist()[:2] == [0, 1]
    evals = pd.DataFrame(
        {
            "group": ["source"] * 4 + ["generated"] * 4,
            "finite": [True] * 7 + [False],
            "test_acc": [80, 82, 70, 72, 80.5, 67.0, 30.0, 0.0],
            "run": [0, 0, 1, 1, *near.run],
            "run_by_predictions": [0, 0, 1, 1, *near.run_by_predictions],
        }
    )
    land = landing(evals, "generated")
    # on a run: the first (81 +- 2); the second is 4 below its run (neither); between
    # (below 71 - 5): the third; the NaN set: neither, and no nearest run to agree on
    assert land["near"] == 25.0 and land["between"] == 25.0 and land["agree"] == 75.0
    # the ablation table's run columns (axis align): the same shares, averaged over seeds
    evals["val_acc"] = evals.test_acc
    table = ablation_table("align", [("weights", evals), ("weights", evals)], [evals])
    row = table.set_index("align").loc["weights"]
    assert (row.near_run_pct, row.between_runs_pct) == (25.0, 25.0)
    assert "near_run_pct" in table and table.near_run_pct.iloc[0] == 100.0  # sources: on a run
