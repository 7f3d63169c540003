import os

import pytest
import torch

from pdiff.io import ArtifactError, atomic_dir, atomic_path, load_tensors, save_tensors


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "a.safetensors"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failed_folder_write_leaves_nothing_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "ckpts"
    with atomic_dir(target) as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "y").write_text("2")
        raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["ckpts"]
    assert [p.name for p in target.iterdir()] == ["x"]


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path):
    (tmp_path / ".a.safetensors.abc123.tmp").write_text("junk")
    (tmp_path / ".other.safetensors.abc.tmp").write_text("not ours")
    save_tensors({"x": torch.ones(2)}, tmp_path / "a.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.safetensors.abc.tmp",
        "a.safetensors",
    ]


def test_round_trip(tmp_path):
    save_tensors({"x": torch.arange(3.0)}, tmp_path / "a.safetensors")
    assert torch.equal(load_tensors(tmp_path / "a.safetensors")["x"], torch.arange(3.0))


def test_truncated_file_names_the_file(tmp_path):
    path = tmp_path / "ckpt_0003.safetensors"
    save_tensors({"x": torch.randn(100)}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ArtifactError, match="ckpt_0003.safetensors"):
        load_tensors(path)


def test_garbage_file_names_the_file(tmp_path):
    path = tmp_path / "ae.safetensors"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(ArtifactError, match="ae.safetensors"):
        load_tensors(path)


def test_nan_or_inf_names_file_and_tensor(tmp_path):
    path = tmp_path / "ckpt_0001.safetensors"
    save_tensors({"bn3.weight": torch.tensor([1.0, float("inf")])}, path)
    with pytest.raises(ArtifactError, match=r"ckpt_0001.safetensors.*bn3.weight"):
        load_tensors(path)
    assert not torch.isfinite(load_tensors(path, check_finite=False)["bn3.weight"]).all()


def test_missing_file(tmp_path):
    with pytest.raises(ArtifactError, match="not found"):
        load_tensors(tmp_path / "nope.safetensors")


def test_metadata_round_trip_and_same_bytes(tmp_path):
    from pdiff.io import load_metadata

    meta = {"b": 1, "a": [1, 2], "c": {"z": 1, "y": 2}}
    for name in ("x", "y"):
        save_tensors({"t": torch.ones(1)}, tmp_path / f"{name}.safetensors", metadata=meta)
    assert load_metadata(tmp_path / "x.safetensors") == meta
    assert (tmp_path / "x.safetensors").read_bytes() == (tmp_path / "y.safetensors").read_bytes()


def test_checkpoint_of_the_wrong_shape_names_the_file(tmp_path):
    from pdiff.data import load_splits
    from pdiff.matrix import ParameterMatrix
    from pdiff.networks import configured_network, small_cnn
    from pdiff.subset import ParameterSubset

    kwargs = {"channels": [4, 8, 8], "hidden": 16}
    cfg = {
        "data": {"name": "fashion_mnist"},
        "network": {"name": "small_cnn", "kwargs": kwargs},
        "locations": {"last_two_bn": ["bn3.*", "bn4.*"]},
    }
    x = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    y = torch.zeros(4, dtype=torch.int64)
    save_tensors(
        {f"{s}_{k}": v.clone() for s in ("train", "val", "test") for k, v in (("x", x), ("y", y))},
        tmp_path / "data.safetensors",
        metadata={
            "dataset": "fashion_mnist",
            "num_classes": 10,
            "mean": [0.5],
            "std": [0.25],
            "storage": "uint8",
        },
    )
    model = small_cnn(channels=(4, 8, 8), hidden=16)
    save_tensors(model.state_dict(), tmp_path / "base.safetensors")
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    good = {n: p.detach() for n, p in model.named_parameters() if n.startswith(("bn3", "bn4"))}
    save_tensors(good, ckpts / "ckpt_0000.safetensors")
    save_tensors({**good, "bn3.weight": torch.ones(3)}, ckpts / "ckpt_0001.safetensors")
    splits = load_splits(str(tmp_path / "data.safetensors"))
    model = configured_network(cfg, splits, str(tmp_path / "base.safetensors"))
    subset = ParameterSubset.from_model(model, cfg["locations"]["last_two_bn"])
    with pytest.raises(ArtifactError, match=r"ckpt_0001.safetensors.*bn3.weight"):
        ParameterMatrix.from_collection(model, subset, "last_two_bn", ckpts, 2)
    # base weights of another network name the file too
    save_tensors(small_cnn().state_dict(), tmp_path / "other.safetensors")
    with pytest.raises(ArtifactError, match="other.safetensors.*does not fit"):
        configured_network(cfg, splits, str(tmp_path / "other.safetensors"))


def _exported(tmp_path, net_name="small_cnn", kwargs=None):
    """One model written by pdiff.export.write_models, with a network spec of that name."""
    import pandas as pd

    from pdiff.export import write_models
    from pdiff.generator import build_from_spec
    from pdiff.subset import ParameterSubset

    spec = {
        "name": net_name,
        "kwargs": kwargs or {},
        "in_channels": 1,
        "num_classes": 10,
        "image_size": 28,
        "input_size": None,
    }
    torch.manual_seed(0)
    net = build_from_spec(spec)
    subset = ParameterSubset.from_model(net, [next(n for n, _ in net.named_parameters())])
    row = subset.flatten(dict(net.named_parameters())).detach()
    rows = torch.stack([row, row + 1])
    chosen = pd.DataFrame(
        {"group": "generated", "index": [1], "val_acc": [50.0], "test_acc": [40.0], "finite": True}
    )
    preds = torch.zeros(2, 5, dtype=torch.long)
    write_models(
        rows,
        chosen,
        net.state_dict(),
        subset,
        rows[:1],
        preds,
        preds[:1],
        torch.zeros(5, dtype=torch.long),
        spec,
        {
            "experiment": "x",
            "seed": 0,
            "data": "results/shared/data-0/data.safetensors",
            "subset_dim": subset.dim,
            "variant": {
                "location": "l",
                "k": 1,
                "noise": "both",
                "denoiser": "conv",
                "sampler": "ddpm-10",
            },
        },
        tmp_path / "export",
    )
    return tmp_path / "export" / "model_001.safetensors", net, subset, rows[1]


@pytest.mark.parametrize(
    "name, kwargs", [("small_cnn", {"channels": [4, 8, 8], "hidden": 16}), ("resnet18", {})]
)
def test_an_exported_model_loads_strictly_with_its_generated_subset(tmp_path, name, kwargs):
    import pdiff

    path, net, subset, row = _exported(tmp_path, name, kwargs)
    model = pdiff.load_model(path)
    state = model.state_dict()
    assert state.keys() == net.state_dict().keys()
    for tensor_name, value in subset.unflatten(row).items():
        assert torch.equal(state[tensor_name], value)
    # a network built the usual way takes the file with strict=True
    from safetensors.torch import load_file

    net.load_state_dict(load_file(path), strict=True)
    assert torch.equal(net.state_dict()[subset.names[0]], state[subset.names[0]])
    card = (path.parent / "README.md").read_text()
    assert f"`{name}`" in card and "with {}" not in card
    assert ("its default settings" in card) == (not kwargs)


def test_bad_exports_name_the_file_and_the_mismatch(tmp_path):
    from pdiff.export import load_into, load_model
    from pdiff.generator import build_from_spec

    path, _, _, _ = _exported(tmp_path, "small_cnn", {"channels": [4, 8, 8], "hidden": 16})
    other = build_from_spec(
        {
            "name": "small_cnn",
            "kwargs": {"channels": [4, 8, 16], "hidden": 16},
            "in_channels": 1,
            "num_classes": 10,
            "image_size": 28,
        }
    )
    with pytest.raises(
        ArtifactError,
        match=r"model_001.safetensors: does not fit this network"
        r": 'conv3.weight' is \(8, 8, 3, 3\) in the file, \(16, 8, 3, 3\) "
        r"in the network",
    ):
        load_into(other, path)
    plain = tmp_path / "plain.safetensors"
    save_tensors({"w": torch.ones(2)}, plain)
    with pytest.raises(ArtifactError, match="plain.safetensors: not a model exported by pdiff"):
        load_model(plain)


@pytest.mark.parametrize(
    "content, words",
    [
        ("", "cannot read the table"),
        ("group,index\n", "lacks the columns ['finite', 'val_acc', 'test_acc']"),
        ("group,index,finite,val_acc,test_acc\n", "has no rows"),
        ('group,index\n"unclosed,1\n', "cannot read the table"),
    ],
)
def test_a_truncated_table_names_the_file_and_the_fix(tmp_path, content, words):
    from pdiff.evaluation import EVALUATION_COLUMNS
    from pdiff.io import load_table

    path = tmp_path / "evaluation.csv"
    path.write_text(content)
    with pytest.raises(ArtifactError) as e:
        load_table(path, EVALUATION_COLUMNS)
    assert str(path) in str(e.value) and words in str(e.value)
    assert "rerun the rule that writes it" in str(e.value)


def test_artifacts_get_the_users_usual_modes_not_the_temporaries_private_ones(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("a")
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
