"""Images of a large data set, left in their folder and decoded when a batch is asked for."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch


def decode_transform(size: int):
    """PIL image -> uint8 C x size x size: shorter side resized to `size`, centre cropped."""
    from torchvision import transforms

    return transforms.Compose(
        [transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()]
    )


class FolderImages:
    """One split of a folder-backed data set, read like a tensor of normalized images:
    `len(x)`, `x[i:j]` and `x[index_tensor]` give float batches (B x C x H x W), decoded on
    demand, so training and evaluation take it or a tensor alike.

    Why not one tensor file as for the small data sets: ImageNet at 224 px would be 190 GB
    of uint8 (Food-101 15 GB), so the images stay in their folder and the data file keeps
    only the split's indices and labels. One mechanism serves all four photo data sets
    (Flowers and Pets would fit in memory, but then two code paths would do one job).
    Decoding runs in a thread pool, as many threads as torch uses (the rule's threads,
    set by pdiff.runtime.setup): PIL releases the GIL while it decodes, and threads need
    no worker processes or shared memory.
    """

    def __init__(self, dataset, indices: torch.Tensor, mean, std):
        self.dataset = dataset  # a torchvision data set whose transform is decode_transform
        self.indices = indices.long()
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self._pool = None

    def _decode(self, i: int) -> torch.Tensor:
        """Image i of the data set, or DataUnavailable naming its file when it cannot be read."""
        from pdiff.datasets import CORRUPT_FILE_ERRORS, DataUnavailable

        try:
            return self.dataset[i][0]
        except CORRUPT_FILE_ERRORS as e:
            raise DataUnavailable(
                f"{_image_path(self.dataset, i)}: cannot be read as an image "
                f"({type(e).__name__}: {e}); replace it with an intact copy "
                "of the data set's file"
            ) from e

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, int):
            return self[key : key + 1][0] if key >= 0 else self[len(self) + key]
        chosen = self.indices[key] if isinstance(key, slice) else self.indices[torch.as_tensor(key)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, torch.get_num_threads()))
        images = list(self._pool.map(self._decode, chosen.tolist()))
        x = torch.stack(images).float().div_(255.0)
        return (x - self.mean) / self.std


def _image_path(dataset, i: int) -> str:
    """The file of image i in a torchvision folder data set (ImageFolder, Flowers102,
    OxfordIIITPet, Food101; a ConcatDataset of them)."""
    if isinstance(dataset, torch.utils.data.ConcatDataset):
        import bisect

        part = bisect.bisect_right(dataset.cumulative_sizes, i)
        start = dataset.cumulative_sizes[part - 1] if part else 0
        return _image_path(dataset.datasets[part], i - start)
    for attr in ("samples", "_image_files", "_images"):
        files = getattr(dataset, attr, None)
        if files is not None:
            item = files[i]
            return str(item[0] if isinstance(item, tuple) else item)
    return f"image {i} of {type(dataset).__name__}"
