"""The known data sets: how torchvision finds or downloads them, their splits, classes and stats."""

from __future__ import annotations

import gzip
import pickle
import shutil
import zlib
from pathlib import Path

import numpy as np
import torch

# Pretrained networks expect inputs normalized with ImageNet's statistics; the photo data sets
# (Flowers, Pets, Food) are fine-tuned from them, so they use the same.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IDX_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]

# Per data set: torchvision's class; the constructor keywords of the splits that form the
# training pool (validation is held out of it) and the test set; where the images live
# ("uint8": small images, stored in the data file; "folder": decoded on demand, see
# pdiff.folder_images); native image side (folder sets: the side they are decoded to unless
# data.image_size says otherwise); classes; channel statistics; what data.root must hold.
DATASETS = {
    "mnist": dict(
        tv_class="MNIST",
        train=[{"train": True}],
        test=[{"train": False}],
        storage="uint8",
        image_size=28,
        num_classes=10,
        mean=(0.1307,),
        std=(0.3081,),
        layout=", ".join(IDX_FILES) + " (.gz or not)",
    ),
    "fashion_mnist": dict(
        tv_class="FashionMNIST",
        train=[{"train": True}],
        test=[{"train": False}],
        storage="uint8",
        image_size=28,
        num_classes=10,
        mean=(0.2860,),
        std=(0.3530,),
        layout=", ".join(IDX_FILES) + " (.gz or not)",
    ),
    "cifar10": dict(
        tv_class="CIFAR10",
        train=[{"train": True}],
        test=[{"train": False}],
        storage="uint8",
        image_size=32,
        num_classes=10,
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        layout="cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta)",
    ),
    "cifar100": dict(
        tv_class="CIFAR100",
        train=[{"train": True}],
        test=[{"train": False}],
        storage="uint8",
        image_size=32,
        num_classes=100,
        mean=(0.5071, 0.4865, 0.4409),
        std=(0.2673, 0.2564, 0.2762),
        layout="cifar-100-python/ (train, test, meta)",
    ),
    "stl10": dict(
        tv_class="STL10",
        train=[{"split": "train"}],
        test=[{"split": "test"}],
        storage="uint8",
        image_size=96,
        num_classes=10,
        mean=(0.4467, 0.4398, 0.4066),
        std=(0.2603, 0.2566, 0.2713),
        layout="stl10_binary/ (train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin)",
    ),
    # Flowers' official train and val splits have 10 images per class each: both form the
    # training pool, and data.val_size is held out of it as for every other data set.
    "flowers102": dict(
        tv_class="Flowers102",
        train=[{"split": "train"}, {"split": "val"}],
        test=[{"split": "test"}],
        storage="folder",
        image_size=224,
        num_classes=102,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        layout="flowers-102/ (jpg/image_*.jpg, imagelabels.mat, setid.mat)",
    ),
    "pets": dict(
        tv_class="OxfordIIITPet",
        train=[{"split": "trainval"}],
        test=[{"split": "test"}],
        storage="folder",
        image_size=224,
        num_classes=37,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        layout="oxford-iiit-pet/ (images/*.jpg, annotations/trainval.txt, annotations/test.txt)",
    ),
    "food101": dict(
        tv_class="Food101",
        train=[{"split": "train"}],
        test=[{"split": "test"}],
        storage="folder",
        image_size=224,
        num_classes=101,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        layout="food-101/ (images/<class>/*.jpg, meta/train.json, meta/test.json)",
    ),
    # ImageNet's licence rules out a download: data.root is a local folder, and its val split
    # (50,000 images) is the test set.
    "imagenet": dict(
        tv_class="ImageNet",
        train=[{"split": "train"}],
        test=[{"split": "val"}],
        storage="folder",
        image_size=224,
        num_classes=1000,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        download=False,
        layout="train/ and val/ with one folder of images per class (the same "
        "class folders in both), or the original archives "
        "ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and "
        "ILSVRC2012_devkit_t12.tar.gz, which torchvision unpacks once",
    ),
}
# Where Debian's dataset-* packages put the original files.
KNOWN_ROOTS = {
    "fashion_mnist": ["/usr/share/datasets/fashion-mnist"],
    "mnist": ["/usr/share/datasets/mnist"],
}
# Data sets whose files torchvision checks against the original archives' MD5 sums.
MD5_CHECKED = {"cifar10", "cifar100", "stl10", "flowers102"}
INSTALL_HINTS = {
    "fashion_mnist": "apt-get install dataset-fashion-mnist",
    "mnist": "apt-get install dataset-mnist (where available)",
}


class DataUnavailable(RuntimeError):
    """The data set is neither on disk nor downloadable, or its files are corrupt."""


# What torchvision's parsers raise on a truncated or damaged file (pickles, binary arrays,
# IDX files, archives, images).
CORRUPT_FILE_ERRORS = (
    EOFError,
    pickle.UnpicklingError,
    ValueError,
    OSError,
    zlib.error,
    UnicodeDecodeError,
    IndexError,
    KeyError,
)


def _stage_idx_files(name: str, root: Path, cache: Path) -> bool:
    """Copy (gunzipping) MNIST-style IDX files from `root` into torchvision's raw folder."""
    raw = cache / DATASETS[name]["tv_class"] / "raw"
    if not all((root / f).exists() or (root / f"{f}.gz").exists() for f in IDX_FILES):
        return False
    raw.mkdir(parents=True, exist_ok=True)
    for f in IDX_FILES:
        if (raw / f).exists():
            continue
        tmp = raw / f".{f}.tmp"
        source = root / f if (root / f).exists() else root / f"{f}.gz"
        try:
            if source.suffix != ".gz":
                shutil.copyfile(source, tmp)
            else:
                with gzip.open(source, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        except (EOFError, OSError, zlib.error) as e:
            tmp.unlink(missing_ok=True)
            raise DataUnavailable(
                f"{source}: corrupt or truncated ({type(e).__name__}: {e}); "
                "replace it with an intact copy (reinstall the data package, "
                "or delete it and let torchvision download the data)"
            ) from e
        tmp.replace(raw / f)
    return True


def _unverified(cls):
    """torchvision's class with its table of MD5 sums emptied: files need only exist.

    torchvision checks CIFAR, STL-10 and Flowers files against the sums of the original
    archives; a copy in the same format that differs byte for byte (a re-packaged mirror, the
    tests' small files) is then read by the same parser.
    """
    attrs = {}
    for name in ("train_list", "test_list"):
        if hasattr(cls, name):
            attrs[name] = [[entry[0], None] for entry in getattr(cls, name)]
    if isinstance(getattr(cls, "meta", None), dict):
        attrs["meta"] = {**cls.meta, "md5": None}
    if isinstance(getattr(cls, "_file_dict", None), dict):
        attrs["_file_dict"] = {k: (v[0], None) for k, v in cls._file_dict.items()}
    return type(cls.__name__, (cls,), attrs)


def _image_folders(root, split, transform=None, **_):
    """ImageNet as plain class folders (root/train, root/val), the common local layout."""
    from torchvision.datasets import ImageFolder

    return ImageFolder(str(Path(root) / split), transform=transform)


def _constructor(name: str, root: Path, checksums: bool):
    import torchvision

    if name == "imagenet" and not any(
        (root / f).exists() for f in ("meta.bin", "ILSVRC2012_devkit_t12.tar.gz")
    ):
        return _image_folders
    cls = getattr(torchvision.datasets, DATASETS[name]["tv_class"])
    return cls if checksums else _unverified(cls)


def _open(name: str, root: Path, checksums: bool, download: bool, transform):
    """(training pool, test set) as torchvision data sets; several splits are concatenated."""
    spec = DATASETS[name]
    make = _constructor(name, root, checksums)
    extra = {"download": download} if spec.get("download", True) else {}
    parts = {
        part: [make(str(root), transform=transform, **kw, **extra) for kw in spec[part]]
        for part in ("train", "test")
    }
    if name == "imagenet" and parts["train"][0].classes != parts["test"][0].classes:
        raise DataUnavailable(
            f"ImageNet in {root}: train/ and val/ hold different class "
            "folders; both need one folder per class, the same names"
        )
    return tuple(
        p[0] if len(p) == 1 else torch.utils.data.ConcatDataset(p)
        for p in (parts["train"], parts["test"])
    )


def open_torchvision(
    name: str,
    root: str | None = None,
    cache: str = "data",
    download: bool = True,
    checksums: bool = True,
    transform=None,
):
    """torchvision's (training pool, test set) of a known data set from a local folder, or by
    download; and the folder torchvision reads them from."""
    if name not in DATASETS:
        raise DataUnavailable(f"unknown data set '{name}'; known: {sorted(DATASETS)}")
    spec = DATASETS[name]
    cache_p = Path(cache)
    if spec["tv_class"] in ("MNIST", "FashionMNIST"):
        # data.root holds the original IDX files; torchvision wants them in its own folder.
        tv_root, looked = cache_p, [str(cache_p / spec["tv_class"] / "raw")]
        for cand in [root] if root else KNOWN_ROOTS.get(name, []):
            looked.append(str(cand))
            if Path(cand).is_dir() and _stage_idx_files(name, Path(cand), cache_p):
                break
    else:
        tv_root = Path(root) if root else cache_p
        looked = [str(tv_root)]
    try:
        return _open(name, tv_root, checksums, False, transform), tv_root
    except DataUnavailable:
        raise
    except (RuntimeError, FileNotFoundError) as e:
        said = f"torchvision: {e}"
    except CORRUPT_FILE_ERRORS as e:  # the files are there, but torchvision cannot parse them
        raise DataUnavailable(
            f"data set '{name}' in {tv_root}: a file is corrupt or truncated "
            f"({type(e).__name__}: {e}); replace {spec['layout']} with intact copies (or "
            f"delete them and let torchvision download the data)"
        ) from e
    if download and spec.get("download", True):
        try:
            return _open(name, tv_root, checksums, True, transform), tv_root
        except Exception as e:  # network errors come in many types
            reason = f"the download failed ({type(e).__name__}: {e})"
    elif download:
        reason = f"{name} cannot be downloaded ({said})"
    else:
        reason = f"download is off (data.download: false; {said})"
    sums = (
        "; torchvision also checks the files' MD5 sums, and data.checksums: false accepts "
        "another copy in the same format"
        if checksums and name in MD5_CHECKED
        else ""
    )
    raise DataUnavailable(
        f"data set '{name}' not found: looked in {', '.join(looked)}, and {reason}. "
        f"Fix: {INSTALL_HINTS[name] + ', or ' if name in INSTALL_HINTS else ''}set data.root "
        f"to a folder holding {spec['layout']}, or allow data.download with network access"
        f"{sums}."
    )


def labels_of(dataset) -> torch.Tensor:
    """Class labels of a torchvision data set without decoding its images."""
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        return torch.cat([labels_of(d) for d in dataset.datasets])
    for attr in ("targets", "labels", "_labels"):
        if getattr(dataset, attr, None) is not None:
            return torch.as_tensor(np.asarray(getattr(dataset, attr)), dtype=torch.int64)
    raise TypeError(f"{type(dataset).__name__}: no targets, labels or _labels to read")


def images_of(dataset) -> torch.Tensor:
    """All images of an in-memory torchvision data set (MNIST, CIFAR, STL-10) as uint8 NCHW."""
    x = torch.as_tensor(np.asarray(dataset.data))
    if x.ndim == 3:
        return x.unsqueeze(1)
    # CIFAR keeps channels last (N x 32 x 32 x 3); STL-10 and MNIST do not.
    if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    return x.contiguous()
