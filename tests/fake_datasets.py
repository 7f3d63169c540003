"""Small data sets in each original on-disk format, for torchvision's real loaders to read.

Every image is one colour that encodes its label (`pixel`), so a test can check that the
loader kept each image with its label, through resizing and JPEG.
"""

import gzip
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import torch


def pixel(label: int, channel: int) -> int:
    """The value of every pixel of an image of class `label` in `channel`."""
    return (label * 37 + channel * 85) % 256


def _planes(labels, size: int) -> np.ndarray:
    """Images N x 3 x size x size, each filled with its label's colour."""
    return np.stack(
        [
            np.stack([np.full((size, size), pixel(int(y), c), np.uint8) for c in range(3)])
            for y in labels
        ]
    )


def _jpeg(path: Path, label: int, i: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    # Sizes differ, as in the real sets, so resizing and cropping are exercised.
    Image.new("RGB", (40 + i % 7, 30 + i % 5), tuple(pixel(label, c) for c in range(3))).save(
        path, quality=95
    )


def write_idx(path: Path, array: torch.Tensor) -> None:
    """An IDX file (the original MNIST format), gzipped."""
    dims = array.shape
    header = struct.pack(">I", 0x0800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + array.to(torch.uint8).numpy().tobytes())


def write_mnist(root: Path, train: int = 60, test: int = 20) -> None:
    """The four MNIST IDX files, grayscale images of their label's first-channel colour."""
    for prefix, n in (("train", train), ("t10k", test)):
        labels = torch.arange(n) % 10
        write_idx(
            root / f"{prefix}-images-idx3-ubyte.gz",
            torch.from_numpy(_planes(labels.tolist(), 28)[:, 0]),
        )
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)


def write_cifar(root: Path, classes: int = 10, per_batch: int = 20, test: int = 30) -> None:
    """cifar-10-batches-py/ (five training batches) or cifar-100-python/ (one file)."""

    def batch(n, offset, label_key):
        labels = [(offset + i) % classes for i in range(n)]
        return {"data": _planes(labels, 32).reshape(n, -1), label_key: labels}

    if classes == 10:
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        files = {f"data_batch_{b}": batch(per_batch, b, "labels") for b in range(1, 6)}
        files |= {
            "test_batch": batch(test, 0, "labels"),
            "batches.meta": {"label_names": [f"c{i}" for i in range(10)]},
        }
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        files = {
            "train": batch(5 * per_batch, 0, "fine_labels"),
            "test": batch(test, 0, "fine_labels"),
            "meta": {"fine_label_names": [f"c{i}" for i in range(classes)]},
        }
    for name, content in files.items():
        with open(folder / name, "wb") as f:
            pickle.dump(content, f)


def write_stl10(root: Path, train: int = 60, test: int = 20) -> None:
    """stl10_binary/: raw uint8 images and 1-based uint8 labels."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    for split, n in (("train", train), ("test", test)):
        labels = [i % 10 for i in range(n)]
        (folder / f"{split}_X.bin").write_bytes(_planes(labels, 96).tobytes())
        (folder / f"{split}_y.bin").write_bytes(bytes(y + 1 for y in labels))
    (folder / "unlabeled_X.bin").write_bytes(b"")  # torchvision wants it present


def write_flowers(root: Path, n: int = 30) -> None:
    """flowers-102/: jpg/image_NNNNN.jpg, imagelabels.mat (1-based), setid.mat."""
    from scipy.io import savemat

    folder = root / "flowers-102"
    labels = [i % 102 for i in range(n)]
    for i, y in enumerate(labels, start=1):
        _jpeg(folder / "jpg" / f"image_{i:05d}.jpg", y, i)
    savemat(folder / "imagelabels.mat", {"labels": np.array([[y + 1 for y in labels]])})
    ids = np.arange(1, n + 1)
    savemat(
        folder / "setid.mat",
        {"trnid": ids[: n // 3], "valid": ids[n // 3 : 2 * n // 3], "tstid": ids[2 * n // 3 :]},
    )


def write_pets(root: Path, trainval: int = 20, test: int = 10) -> None:
    """oxford-iiit-pet/: images/<Breed>_<n>.jpg and annotations/{trainval,test}.txt."""
    folder = root / "oxford-iiit-pet"
    (folder / "annotations").mkdir(parents=True)
    i = 0
    for split, n in (("trainval", trainval), ("test", test)):
        lines = []
        for _ in range(n):
            y = i % 37
            name = f"breed{y}_{i}"
            _jpeg(folder / "images" / f"{name}.jpg", y, i)
            lines.append(f"{name} {y + 1} {1 + y % 2} 1")
            i += 1
        (folder / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")


def write_food(root: Path, train: int = 20, test: int = 10, classes: int = 5) -> None:
    """food-101/: images/<class>/<id>.jpg and meta/{train,test}.json (class -> ids)."""
    folder = root / "food-101"
    (folder / "meta").mkdir(parents=True)
    i = 0
    for split, n in (("train", train), ("test", test)):
        meta = {f"dish{c}": [] for c in range(classes)}
        for _ in range(n):
            c = i % classes
            _jpeg(folder / "images" / f"dish{c}" / f"{i}.jpg", c, i)
            meta[f"dish{c}"].append(f"dish{c}/{i}")
            i += 1
        (folder / "meta" / f"{split}.json").write_text(json.dumps(meta))


def write_imagenet(
    root: Path, train: int = 20, val: int = 10, classes: int = 4, meta_bin: bool = False
) -> None:
    """train/<wnid>/*.JPEG and val/<wnid>/*.JPEG; with meta_bin, the meta.bin that
    torchvision's ImageNet writes when it unpacks the original archives."""
    wnids = [f"n{c:08d}" for c in range(classes)]
    i = 0
    for split, n in (("train", train), ("val", val)):
        for _ in range(n):
            c = i % classes
            _jpeg(root / split / wnids[c] / f"{i}.JPEG", c, i)
            i += 1
    if meta_bin:
        torch.save(({w: (f"class {w}",) for w in wnids}, []), root / "meta.bin")
