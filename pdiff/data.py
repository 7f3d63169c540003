"""Train / validation / test splits of a data set, prepared once into one tensor file."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pdiff.callables import call_with_accepted, is_callable_name, load_callable
from pdiff.datasets import DATASETS, DataUnavailable, images_of, labels_of, open_torchvision
from pdiff.folder_images import FolderImages, decode_transform
from pdiff.io import ArtifactError, load_metadata, load_tensors, save_tensors

__all__ = ["DataUnavailable", "Splits", "load_splits", "prepare_data"]
SPLITS = ("train", "val", "test")


@dataclass
class Splits:
    """Labels and images of train, validation and test, as `prepare_data` stored them.

    `meta["storage"]` says where the images are: "uint8" (in `tensors`, normalized when
    read), "float" (in `tensors`, normalized by the user's loader) or "folder" (in the data
    set's folder; `tensors` holds indices into torchvision's training pool or test set).
    """

    tensors: dict[str, torch.Tensor]
    meta: dict
    _pools: tuple | None = field(default=None, repr=False)

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    @property
    def in_channels(self) -> int:
        x = self.tensors.get("train_x")
        return int(x.shape[1]) if x is not None else int(self.meta["channels"])

    @property
    def image_size(self) -> int:
        x = self.tensors.get("train_x")
        return int(x.shape[-1]) if x is not None else int(self.meta["image_size"])

    def images(self, split: str):
        """Normalized float images of a split: a tensor, or for folder-backed data sets a
        FolderImages that decodes the batches asked of it."""
        storage = self.meta["storage"]
        if storage == "folder":
            pool = self._folder_pools()[1 if split == "test" else 0]
            return FolderImages(
                pool, self.tensors[f"{split}_index"], self.meta["mean"], self.meta["std"]
            )
        x = self.tensors[f"{split}_x"]
        if storage == "float":
            return x
        mean = torch.tensor(self.meta["mean"]).view(1, -1, 1, 1)
        std = torch.tensor(self.meta["std"]).view(1, -1, 1, 1)
        return (x.float().div_(255.0) - mean) / std

    def labels(self, split: str) -> torch.Tensor:
        return self.tensors[f"{split}_y"].long()

    def _folder_pools(self):
        """torchvision's training pool and test set, reopened from the folder prepare_data
        read, and checked against the stored labels (the folder may have changed since)."""
        if self._pools is None:
            m = self.meta
            pools, _ = open_torchvision(
                m["dataset"],
                root=m["root"],
                download=False,
                checksums=m["checksums"],
                transform=decode_transform(m["image_size"]),
            )
            for pool, size, splits in (
                (pools[0], m["pool_sizes"][0], ("train", "val")),
                (pools[1], m["pool_sizes"][1], ("test",)),
            ):
                labels = labels_of(pool)
                if len(labels) != size or not all(
                    torch.equal(labels[self.tensors[f"{s}_index"]], self.tensors[f"{s}_y"])
                    for s in splits
                ):
                    raise ArtifactError(
                        f"{m['root']}: the data set's files changed since prepare_data read "
                        "them; delete the data file it wrote (results/shared/data-*/) and rerun"
                    )
            self._pools = pools
        return self._pools


def _split_indices(
    n_train: int,
    n_test: int,
    val_size: int,
    train_size: int | None,
    test_size: int | None,
    seed: int,
):
    """Validation held out of the training pool at random; train and test subsampled."""
    if val_size >= n_train:
        raise ValueError(
            f"data.val_size={val_size} leaves no training images (train set has "
            f"{n_train}); lower data.val_size"
        )
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n_train, generator=g)
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if train_size is not None:
        train_idx = train_idx[:train_size]
    test_perm = torch.randperm(n_test, generator=g)
    test_idx = (test_perm if test_size is None else test_perm[:test_size]).sort().values
    return {"train": train_idx, "val": val_idx, "test": test_idx}


def _resized(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None or x.shape[-1] == size:
        return x
    from torchvision.transforms.v2.functional import resize

    return resize(x, [size, size], antialias=True)


def prepare_data(
    name: str,
    out: str,
    root: str | None = None,
    cache: str = "data",
    download: bool = True,
    train_size: int | None = None,
    val_size: int = 5000,
    test_size: int | None = None,
    seed: int = 0,
    image_size: int | None = None,
    num_classes: int | None = None,
    checksums: bool = True,
) -> None:
    """Write train/val/test labels, and images or their indices, to one safetensors file.

    The validation split is held out of the training set (it selects models); the test set
    is only reported. `name` is a known data set or a 'module:function' (prepare_callable).
    """
    if is_callable_name(name):
        return prepare_callable(name, out, root, train_size, test_size, seed, num_classes)
    if name not in DATASETS:
        raise DataUnavailable(f"unknown data set '{name}'; known: {sorted(DATASETS)}")
    spec = DATASETS[name]
    (train, test), tv_root = open_torchvision(name, root, cache, download, checksums)
    pools = {"train": labels_of(train), "test": labels_of(test)}
    if spec["storage"] == "uint8":
        images = {"train": images_of(train), "test": images_of(test)}
        for part, x in images.items():
            if len(x) != len(pools[part]):
                raise DataUnavailable(
                    f"data set '{name}' in {tv_root}: its {part} files hold {len(x)} images "
                    f"but {len(pools[part])} labels, so a file is corrupt or truncated; "
                    f"replace {spec['layout']} with intact copies (or delete them and let "
                    "torchvision download the data)"
                )
    idx = _split_indices(
        len(pools["train"]), len(pools["test"]), val_size, train_size, test_size, seed
    )
    meta = {
        "dataset": name,
        "num_classes": spec["num_classes"],
        "mean": list(spec["mean"]),
        "std": list(spec["std"]),
        "storage": spec["storage"],
    }
    tensors = {f"{s}_y": pools["test" if s == "test" else "train"][i] for s, i in idx.items()}
    if spec["storage"] == "uint8":
        for s, i in idx.items():
            tensors[f"{s}_x"] = _resized(
                images["test" if s == "test" else "train"][i], image_size
            ).to(torch.uint8)
    else:
        tensors.update({f"{s}_index": i for s, i in idx.items()})
        meta.update(
            root=str(tv_root.resolve()),
            checksums=checksums,
            channels=3,
            image_size=image_size or spec["image_size"],
            pool_sizes=[len(pools["train"]), len(pools["test"])],
        )
    save_tensors(tensors, out, metadata=meta)


def prepare_callable(
    name: str,
    out: str,
    root: str | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    num_classes: int | None = None,
) -> None:
    """A user's data set: `name` is 'package.module:function' returning (train, val, test)
    torch Datasets of (normalized image tensor C x H x W, int label); stored as float."""
    fn = load_callable(name, "data.name")
    sets = call_with_accepted(fn, {}, {"root": root})
    if not (isinstance(sets, tuple | list) and len(sets) == 3):
        raise TypeError(
            f"data.name '{name}' returned {type(sets).__name__}; it must return "
            "(train, val, test) data sets of (image tensor, int label)"
        )
    tensors = {}
    for split, ds in zip(SPLITS, sets, strict=True):
        items = [ds[i] for i in range(len(ds))]
        if not items:
            raise ValueError(f"data.name '{name}': the {split} split is empty")
        x = torch.stack([torch.as_tensor(img, dtype=torch.float32) for img, _ in items])
        if x.ndim != 4 or (split != "train" and x.shape[1:] != tensors["train_x"].shape[1:]):
            raise ValueError(
                f"data.name '{name}': {split} images have shape "
                f"{tuple(x.shape[1:])}; every image must be C x H x W, the "
                "same in all three splits"
            )
        tensors[f"{split}_x"], tensors[f"{split}_y"] = (
            x,
            torch.tensor([int(label) for _, label in items], dtype=torch.int64),
        )
    g = torch.Generator().manual_seed(seed)
    for split, size in (("train", train_size), ("test", test_size)):
        if size is not None:
            keep = torch.randperm(len(tensors[f"{split}_y"]), generator=g)[:size].sort().values
            tensors[f"{split}_x"] = tensors[f"{split}_x"][keep]
            tensors[f"{split}_y"] = tensors[f"{split}_y"][keep]
    labels = torch.cat([tensors[f"{s}_y"] for s in SPLITS])
    classes = num_classes or int(labels.max()) + 1
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(
            f"data.name '{name}': labels span {int(labels.min())}.."
            f"{int(labels.max())}, outside 0..{classes - 1} (data.num_classes)"
        )
    save_tensors(
        tensors, out, metadata={"dataset": name, "num_classes": classes, "storage": "float"}
    )


def data_shape(path: str) -> tuple[int, int, int]:
    """(channels, classes, image size) of a prepared data file, from its header alone (what
    rebuilding the network needs, without reading the images)."""
    from safetensors import safe_open

    meta = load_metadata(path)
    with safe_open(str(path), "pt") as f:
        if "train_x" in f.keys():
            _, channels, _, size = f.get_slice("train_x").get_shape()
        else:
            channels, size = meta["channels"], meta["image_size"]
    return int(channels), int(meta["num_classes"]), int(size)


def load_splits(path: str) -> Splits:
    """Read the prepared data file; its metadata says what it holds."""
    tensors, meta = load_tensors(path), load_metadata(path)
    # Files written before the statistics were stored with them: the registry's.
    spec = DATASETS.get(meta.get("dataset"), {})
    meta = {"storage": "uint8", "mean": spec.get("mean"), "std": spec.get("std"), **meta}
    return Splits(tensors, meta)


def prepare(d: dict, out: str) -> None:
    """prepare_data with the config's data section."""
    prepare_data(
        d["name"],
        out,
        root=d["root"],
        cache=d["cache"],
        download=d["download"],
        train_size=d["train_size"],
        val_size=d["val_size"],
        test_size=d["test_size"],
        seed=d["split_seed"],
        image_size=d["image_size"],
        num_classes=d["num_classes"],
        checksums=d["checksums"],
    )
