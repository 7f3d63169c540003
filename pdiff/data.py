"""Data sets: find or download them, hold out a validation split, store them as one tensor file."""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from pdiff.io import load_tensors, save_tensors

# Where Debian's dataset-* packages put the original files.
KNOWN_ROOTS = {
    "fashion_mnist": ["/usr/share/datasets/fashion-mnist"],
    "mnist": ["/usr/share/datasets/mnist"],
}
# Per data set: torchvision class name, its raw-file folder name, the original files, channel stats.
DATASETS = {
    "fashion_mnist": dict(tv_class="FashionMNIST", mean=(0.2860,), std=(0.3530,), num_classes=10,
                          files=["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
    "mnist": dict(tv_class="MNIST", mean=(0.1307,), std=(0.3081,), num_classes=10,
                  files=["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
}
INSTALL_HINTS = {
    "fashion_mnist": "apt-get install dataset-fashion-mnist",
    "mnist": "apt-get install dataset-mnist (where available)",
}


class DataUnavailable(RuntimeError):
    """The data set is neither on disk nor downloadable."""


@dataclass
class Splits:
    """Images (uint8, N x C x H x W) and labels for train, validation and test."""

    tensors: dict[str, torch.Tensor]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int

    def images(self, split: str) -> torch.Tensor:
        """Normalized float images of a split."""
        x = self.tensors[f"{split}_x"].float().div_(255.0)
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (x - mean) / std

    def labels(self, split: str) -> torch.Tensor:
        return self.tensors[f"{split}_y"].long()


def _stage_local_files(name: str, root: Path, cache: Path) -> bool:
    """Copy (gunzipping) a data set's original files from `root` into torchvision's raw folder."""
    spec = DATASETS[name]
    raw = cache / spec["tv_class"] / "raw"
    for f in spec["files"]:
        if not ((root / f).exists() or (root / f"{f}.gz").exists()):
            return False
    raw.mkdir(parents=True, exist_ok=True)
    for f in spec["files"]:
        if (raw / f).exists():
            continue
        tmp = raw / f".{f}.tmp"
        if (root / f).exists():
            shutil.copyfile(root / f, tmp)
        else:
            with gzip.open(root / f"{f}.gz", "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
        tmp.replace(raw / f)
    return True


def load_torchvision(name: str, root: str | None, cache: str, download: bool):
    """Return torchvision's (train, test) data sets, from a local folder or by download."""
    import torchvision

    if name not in DATASETS:
        raise DataUnavailable(f"unknown data set '{name}'; known: {sorted(DATASETS)}")
    spec = DATASETS[name]
    cls = getattr(torchvision.datasets, spec["tv_class"])
    cache_p = Path(cache)
    looked = [str(cache_p / spec["tv_class"] / "raw")]
    candidates = [root] if root else KNOWN_ROOTS.get(name, [])
    for cand in candidates:
        looked.append(str(cand))
        if Path(cand).is_dir() and _stage_local_files(name, Path(cand), cache_p):
            break
    try:
        return cls(str(cache_p), train=True, download=False), cls(str(cache_p), train=False,
                                                                  download=False)
    except RuntimeError:
        pass
    if download:
        try:
            return (cls(str(cache_p), train=True, download=True),
                    cls(str(cache_p), train=False, download=True))
        except Exception as e:  # network errors come in many types
            reason = f"the download failed ({type(e).__name__}: {e})"
    else:
        reason = "download is off (data.download: false)"
    raise DataUnavailable(
        f"data set '{name}' not found: looked in {', '.join(looked)}, and {reason}. "
        f"Fix: `{INSTALL_HINTS.get(name, 'download it')}`, or set data.root to a folder holding "
        f"{', '.join(spec['files'])} (.gz or not), or allow data.download with network access.")


def _subsample(n_total: int, n: int | None, g: torch.Generator) -> torch.Tensor:
    perm = torch.randperm(n_total, generator=g)
    return perm if n is None else perm[: min(n, n_total)]


def prepare_data(name: str, out: str, root: str | None = None, cache: str = "data",
                 download: bool = True, train_size: int | None = None, val_size: int = 5000,
                 test_size: int | None = None, seed: int = 0) -> None:
    """Write train/val/test images and labels to one safetensors file.

    The validation split is held out of the training set (it selects models); the test set
    is only reported.
    """
    train, test = load_torchvision(name, root, cache, download)
    g = torch.Generator().manual_seed(seed)
    tx, ty = torch.as_tensor(train.data), torch.as_tensor(train.targets)
    ex, ey = torch.as_tensor(test.data), torch.as_tensor(test.targets)
    if tx.ndim == 3:
        tx, ex = tx.unsqueeze(1), ex.unsqueeze(1)
    if val_size >= len(tx):
        raise ValueError(f"data.val_size={val_size} leaves no training images (train set has "
                         f"{len(tx)}); lower data.val_size")
    perm = torch.randperm(len(tx), generator=g)
    val_idx, train_idx = perm[:val_size], perm[val_size:]
    if train_size is not None:
        train_idx = train_idx[:train_size]
    test_idx = _subsample(len(ex), test_size, g).sort().values
    spec = DATASETS[name]
    save_tensors({
        "train_x": tx[train_idx].to(torch.uint8), "train_y": ty[train_idx].to(torch.int64),
        "val_x": tx[val_idx].to(torch.uint8), "val_y": ty[val_idx].to(torch.int64),
        "test_x": ex[test_idx].to(torch.uint8), "test_y": ey[test_idx].to(torch.int64),
    }, out, metadata={"dataset": name, "num_classes": spec["num_classes"]})


def load_splits(path: str, name: str) -> Splits:
    """Read the prepared data file."""
    spec = DATASETS[name]
    return Splits(load_tensors(path), spec["mean"], spec["std"], spec["num_classes"])
