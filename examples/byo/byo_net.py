"""Your own network, as p-diff sees it: any function that returns an nn.Module.

Config names it as `network.name: "byo_net:build"` (this folder on PYTHONPATH); p-diff calls
it with `network.kwargs`, plus in_channels / num_classes / image_size where the signature
takes them.
"""

import torch
from torch import nn


class MLP(nn.Module):
    """A plain (non-Sequential) module: p-diff evaluates it whole, under torch.func.vmap."""

    def __init__(self, in_features: int, hidden: int, num_classes: int):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.fc1(x.flatten(1))))
        h = torch.relu(self.bn2(self.fc2(h)))
        return self.out(h)


def build(
    in_channels: int = 1, image_size: int = 28, num_classes: int = 10, hidden: int = 64
) -> MLP:
    return MLP(in_channels * image_size * image_size, hidden, num_classes)
