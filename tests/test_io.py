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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.safetensors.abc.tmp",
                                                          "a.safetensors"]


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
    from pdiff.networks import small_cnn
    from pdiff.pipeline import param_matrix

    kwargs = {"channels": [4, 8, 8], "hidden": 16}
    cfg = {"data": {"name": "fashion_mnist"}, "network": {"name": "small_cnn", "kwargs": kwargs},
           "locations": {"last_two_bn": ["bn3.*", "bn4.*"]}}
    x = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    y = torch.zeros(4, dtype=torch.int64)
    save_tensors({f"{s}_{k}": v.clone() for s in ("train", "val", "test")
                  for k, v in (("x", x), ("y", y))},
                 tmp_path / "data.safetensors",
                 metadata={"dataset": "fashion_mnist", "num_classes": 10, "mean": [0.5],
                           "std": [0.25], "storage": "uint8"})
    model = small_cnn(channels=(4, 8, 8), hidden=16)
    save_tensors(model.state_dict(), tmp_path / "base.safetensors")
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    good = {n: p.detach() for n, p in model.named_parameters() if n.startswith(("bn3", "bn4"))}
    save_tensors(good, ckpts / "ckpt_0000.safetensors")
    save_tensors({**good, "bn3.weight": torch.ones(3)}, ckpts / "ckpt_0001.safetensors")
    with pytest.raises(ArtifactError, match=r"ckpt_0001.safetensors.*bn3.weight"):
        param_matrix(cfg, str(tmp_path / "data.safetensors"), str(tmp_path / "base.safetensors"),
                     str(ckpts), "last_two_bn", 2, str(tmp_path / "m.safetensors"),
                     str(tmp_path / "layout.json"))
    assert not (tmp_path / "m.safetensors").exists()
    # base weights of another network name the file too
    save_tensors(small_cnn().state_dict(), tmp_path / "other.safetensors")
    with pytest.raises(ArtifactError, match="other.safetensors.*does not fit"):
        param_matrix(cfg, str(tmp_path / "data.safetensors"), str(tmp_path / "other.safetensors"),
                     str(ckpts), "last_two_bn", 1, str(tmp_path / "m.safetensors"),
                     str(tmp_path / "layout.json"))
