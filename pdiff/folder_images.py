"""Images of a large data set, left in their folder and decoded when a batch is asked for."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch


def decode_transform(size: int):
    """PIL image -> uint8 C x size x size: shorter side resized to `size`, centre cropped."""
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(size), transforms.CenterCrop(size),
                               transforms.PILToTensor()])


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

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, int):
            return self[key:key + 1][0] if key >= 0 else self[len(self) + key]
        chosen = self.indices[key] if isinstance(key, slice) else self.indices[torch.as_tensor(key)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, torch.get_num_threads()))
        images = list(self._pool.map(lambda i: self.dataset[i][0], chosen.tolist()))
        x = torch.stack(images).float().div_(255.0)
        return (x - self.mean) / self.std
