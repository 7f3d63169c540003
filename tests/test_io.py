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
