"""Each known data set, read by torchvision's real loader from small files in its own format
that the tests write (fake_datasets); a user's data set as 'module:function'."""

import json
import textwrap
from functools import partial

import pytest
import torch
from fake_datasets import (
    pixel,
    write_cifar,
    write_flowers,
    write_food,
    write_imagenet,
    write_mnist,
    write_pets,
    write_stl10,
)

from pdiff.callables import CallableError
from pdiff.data import DataUnavailable, load_splits, prepare_data
from pdiff.datasets import DATASETS
from pdiff.io import ArtifactError

# name, writer, images in the training pool / test set, val_size
CASES = {
    "mnist": (write_mnist, 60, 20, 10),
    "cifar10": (write_cifar, 100, 30, 20),
    "cifar100": (partial(write_cifar, classes=100), 100, 30, 20),
    "stl10": (write_stl10, 60, 20, 10),
    "flowers102": (write_flowers, 20, 10, 5),
    "pets": (write_pets, 20, 10, 5),
    "food101": (write_food, 20, 10, 5),
    "imagenet": (write_imagenet, 20, 10, 5),
    "imagenet (torchvision's ImageNet, meta.bin)": (
        partial(write_imagenet, meta_bin=True),
        20,
        10,
        5,
    ),
}


def _prepare(name, root, out, **kw):
    prepare_data(
        name,
        str(out),
        root=str(root),
        cache=str(root.parent / "cache"),
        download=False,
        checksums=False,
        **kw,
    )
    return load_splits(str(out))


def _colours(splits, split):
    """Per image and channel, the mean pixel value (0-255) after undoing the normalization."""
    x = splits.images(split)
    x = x[torch.arange(len(x))]  # a tensor or a FolderImages: indexed alike
    mean = torch.tensor(splits.meta["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(splits.meta["std"]).view(1, -1, 1, 1)
    return ((x * std + mean) * 255).mean(dim=(2, 3))


@pytest.mark.parametrize("case", list(CASES))
def test_each_data_set_is_read_in_its_own_format_with_its_labels(case, tmp_path):
    write, n_pool, n_test, val = CASES[case]
    name = case.split()[0]
    root = tmp_path / "root"
    root.mkdir()
    write(root)
    folder = DATASETS[name]["storage"] == "folder"
    s = _prepare(
        name, root, tmp_path / "data.safetensors", val_size=val, image_size=16 if folder else None
    )
    channels = 1 if name == "mnist" else 3
    assert s.num_classes == DATASETS[name]["num_classes"] and s.in_channels == channels
    assert s.image_size == (16 if folder else DATASETS[name]["image_size"])
    sizes = {split: len(s.labels(split)) for split in ("train", "val", "test")}
    assert sizes == {"train": n_pool - val, "val": val, "test": n_test}
    for split in sizes:
        colours, labels = _colours(s, split), s.labels(split)
        assert colours.shape == (sizes[split], channels)
        expected = torch.tensor(
            [[pixel(int(y), c) for c in range(channels)] for y in labels]
        ).float()
        # every image still carries its own label's colour (JPEG and resizing blur a little)
        assert (colours - expected).abs().max() < 6, split
    if folder:  # only indices are stored; the images stay in their folder
        assert "train_x" not in s.tensors
        x = s.images("test")
        assert torch.equal(x[2:5], x[torch.tensor([2, 3, 4])])
        assert x[2:5].shape == (3, 3, 16, 16)


def test_torchvision_checksums_are_checked_unless_turned_off(tmp_path):
    write_cifar(tmp_path)
    with pytest.raises(DataUnavailable) as e:
        prepare_data("cifar10", str(tmp_path / "d.safetensors"), root=str(tmp_path), download=False)
    assert "data.checksums: false" in str(e.value) and "cifar-10-batches-py" in str(e.value)
    _prepare("cifar10", tmp_path, tmp_path / "d.safetensors", val_size=10)


def test_imagenet_is_never_downloaded_and_says_what_root_must_hold(tmp_path):
    with pytest.raises(DataUnavailable) as e:
        prepare_data("imagenet", str(tmp_path / "d.safetensors"), root=str(tmp_path), download=True)
    assert "cannot be downloaded" in str(e.value) and "train/ and val/" in str(e.value)


def test_a_changed_data_folder_is_an_error_not_silently_other_images(tmp_path):
    write_food(tmp_path)
    s = _prepare("food101", tmp_path, tmp_path / "d.safetensors", val_size=5, image_size=16)
    meta = tmp_path / "food-101" / "meta" / "test.json"
    classes = json.loads(meta.read_text())
    classes["dish0"] = classes["dish0"][1:]
    meta.write_text(json.dumps(classes))
    with pytest.raises(ArtifactError, match="changed since prepare_data"):
        s.images("test")


USER_DATA = """
    import torch
    from torch.utils.data import TensorDataset


    def three_splits(root=None):
        g = torch.Generator().manual_seed(0)
        def part(n):
            return TensorDataset(torch.randn(n, 2, 8, 8, generator=g), torch.arange(n) % 3)
        return part(30), part(10), part(12)


    def two_splits():
        return three_splits()[:2]
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_data.py").write_text(textwrap.dedent(USER_DATA))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "user_data"


def test_a_users_data_set_is_stored_as_given(user_module, tmp_path):
    out = tmp_path / "d.safetensors"
    prepare_data(f"{user_module}:three_splits", str(out), train_size=20)
    s = load_splits(str(out))
    assert s.meta["storage"] == "float" and s.num_classes == 3
    assert (s.in_channels, s.image_size) == (2, 8)
    assert [len(s.labels(x)) for x in ("train", "val", "test")] == [20, 10, 12]
    assert torch.equal(s.images("val"), s.tensors["val_x"])  # already normalized: as is


def test_a_users_data_set_of_the_wrong_form_or_name_is_a_clear_error(user_module, tmp_path):
    out = str(tmp_path / "d.safetensors")
    with pytest.raises(TypeError, match=r"\(train, val, test\)"):
        prepare_data(f"{user_module}:two_splits", out)
    with pytest.raises(CallableError) as e:
        prepare_data(f"{user_module}:nothing", out)
    assert "user_data:nothing" in str(e.value) and "no function 'nothing'" in str(e.value)
    with pytest.raises(CallableError) as e:
        prepare_data("not_a_module_anywhere:make", out)
    assert "not_a_module_anywhere:make" in str(e.value) and "PYTHONPATH" in str(e.value)


@pytest.mark.parametrize("case", [c for c in CASES if " " not in c])
def test_a_corrupt_file_of_any_data_set_names_it_and_the_fix(case, tmp_path):
    # Small data sets: their largest file cut in half stops prepare_data. Folder data sets:
    # every image cut to 10 bytes stops the first batch, naming the image's file.
    write, _, _, val = CASES[case]
    root = tmp_path / "root"
    root.mkdir()
    write(root)
    folder = DATASETS[case]["storage"] == "folder"
    files = [p for p in root.rglob("*") if p.is_file()]
    for victim in (
        [p for p in files if p.suffix.lower() in (".jpg", ".jpeg")]
        if folder
        else [max(files, key=lambda p: p.stat().st_size)]
    ):
        victim.write_bytes(victim.read_bytes()[: 10 if folder else victim.stat().st_size // 2])
    with pytest.raises(DataUnavailable) as e:
        s = _prepare(
            case,
            root,
            tmp_path / "data.safetensors",
            val_size=val,
            image_size=16 if folder else None,
        )
        s.images("test")[torch.arange(3)]
    message = str(e.value)
    assert "corrupt or truncated" in message or "cannot be read" in message, message
    assert str(root) in message or str(tmp_path / "cache") in message, message
    assert "intact cop" in message, message
    # a folder data set's file holds only indices and labels, the images stay in their folder
    assert (tmp_path / "data.safetensors").exists() == folder
