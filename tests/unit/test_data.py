import pytest
import torch
from fake_datasets import write_idx

from pdiff.data import DataUnavailable, load_splits, prepare_data


@pytest.fixture
def idx_root(tmp_path):
    root = tmp_path / "fmnist"
    root.mkdir()
    g = torch.Generator().manual_seed(0)
    for prefix, n in (("train", 300), ("t10k", 100)):
        write_idx(
            root / f"{prefix}-images-idx3-ubyte.gz", torch.randint(0, 256, (n, 28, 28), generator=g)
        )
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", torch.arange(n) % 10)
    return root


def test_local_folder_is_read_by_torchvision_and_split(idx_root, tmp_path):
    out = tmp_path / "data.safetensors"
    prepare_data(
        "fashion_mnist",
        str(out),
        root=str(idx_root),
        cache=str(tmp_path / "cache"),
        download=False,
        val_size=50,
        test_size=40,
    )
    s = load_splits(str(out))
    assert s.tensors["train_x"].shape == (250, 1, 28, 28)
    assert s.tensors["val_x"].shape == (50, 1, 28, 28)
    assert s.tensors["test_x"].shape == (40, 1, 28, 28)
    assert s.images("val").dtype == torch.float32
    # validation is held out of the training set: no image is in both
    train = {bytes(x.numpy()) for x in s.tensors["train_x"]}
    assert not any(bytes(x.numpy()) in train for x in s.tensors["val_x"])


def test_same_seed_same_split_and_another_seed_another_split(idx_root, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        prepare_data(
            "fashion_mnist",
            str(tmp_path / f"{name}.safetensors"),
            root=str(idx_root),
            cache=str(tmp_path / "cache"),
            download=False,
            val_size=50,
            seed=seed,
        )
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    a, c = (load_splits(str(tmp_path / f"{name}.safetensors")) for name in "ac")
    assert not torch.equal(a.tensors["val_x"], c.tensors["val_x"])
    # the same images in all, only split otherwise
    assert sorted(a.labels("train").tolist() + a.labels("val").tolist()) == sorted(
        c.labels("train").tolist() + c.labels("val").tolist()
    )


def test_missing_data_offline_says_where_it_looked_and_how_to_fix(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataUnavailable) as e:
        prepare_data(
            "fashion_mnist",
            str(tmp_path / "d.safetensors"),
            root=str(empty),
            cache=str(tmp_path / "cache"),
            download=False,
        )
    msg = str(e.value)
    assert str(empty) in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "data.root" in msg
    assert not (tmp_path / "d.safetensors").exists()


def test_val_size_larger_than_train_set_is_an_error(idx_root, tmp_path):
    with pytest.raises(ValueError, match="val_size"):
        prepare_data(
            "fashion_mnist",
            str(tmp_path / "d.safetensors"),
            root=str(idx_root),
            cache=str(tmp_path / "cache"),
            download=False,
            val_size=1000,
        )


def test_a_truncated_data_file_names_the_file_and_the_fix(idx_root, tmp_path):
    gz = idx_root / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:200])
    with pytest.raises(DataUnavailable) as e:
        prepare_data(
            "fashion_mnist",
            str(tmp_path / "d.safetensors"),
            root=str(idx_root),
            cache=str(tmp_path / "cache"),
            download=False,
        )
    assert str(gz) in str(e.value) and "corrupt or truncated" in str(e.value)
    assert "intact copy" in str(e.value)
    assert not (tmp_path / "d.safetensors").exists()
    assert not list((tmp_path / "cache").rglob("*.tmp"))
