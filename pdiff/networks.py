"""Task networks, built by name from config."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def small_cnn(in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
              channels: tuple[int, ...] = (16, 32, 64), hidden: int = 64) -> nn.Sequential:
    """Conv-pool-BN-ReLU blocks, then a linear-BN-ReLU layer and a linear head, as one Sequential.

    Flat, so that everything before the first generated layer runs once and is shared by
    every evaluated parameter set (pdiff.evaluation). Pooling before BN keeps the per-set
    work of the default subset (the last two BN layers) small.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    prev, size = in_channels, image_size
    for i, c in enumerate(channels, start=1):
        layers[f"conv{i}"] = nn.Conv2d(prev, c, 3, padding=1, bias=False)
        layers[f"pool{i}"] = nn.MaxPool2d(2)
        layers[f"bn{i}"] = nn.BatchNorm2d(c)
        layers[f"relu{i}"] = nn.ReLU()
        prev, size = c, size // 2
    n = len(channels) + 1
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(prev * size * size, hidden, bias=False)
    layers[f"bn{n}"] = nn.BatchNorm1d(hidden)
    layers[f"relu{n}"] = nn.ReLU()
    layers["head"] = nn.Linear(hidden, num_classes)
    return nn.Sequential(layers)


ARCHITECTURES = {"small_cnn": small_cnn}


def build_network(name: str, in_channels: int, num_classes: int, image_size: int,
                  **kwargs) -> nn.Module:
    """Build a network by its config name."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{name}'; known: {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[name](in_channels=in_channels, num_classes=num_classes,
                               image_size=image_size, **kwargs)
