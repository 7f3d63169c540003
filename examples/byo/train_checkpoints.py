"""Make "your own checkpoints" for the example: an ordinary PyTorch training script.

It trains the MLP of byo_net.py on Fashion-MNIST, then keeps training only its last layers
(bn2 and out) and saves the full state dict after each of --k steps, as p-diff expects its
sources: identical outside the generated layers. Usage:

    PYTHONPATH=examples/byo python examples/byo/train_checkpoints.py --out examples/byo/checkpoints
"""

import argparse
from pathlib import Path

import torch
from byo_net import build
from torch import nn

from pdiff.datasets import DATASETS, images_of, labels_of, open_torchvision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the .pt checkpoints")
    parser.add_argument("--k", type=int, default=50, help="checkpoints to save")
    parser.add_argument("--images", type=int, default=10000, help="training images used")
    parser.add_argument("--data", default="data", help="torchvision's data folder")
    args = parser.parse_args()

    torch.manual_seed(0)
    (train, _), _ = open_torchvision("fashion_mnist", cache=args.data)
    spec = DATASETS["fashion_mnist"]
    x = (images_of(train)[: args.images].float() / 255 - spec["mean"][0]) / spec["std"][0]
    y = labels_of(train)[: args.images]
    model = build(hidden=64)

    def steps(params, n, lr):
        opt = torch.optim.AdamW(params, lr=lr)
        for _ in range(n):
            idx = torch.randint(len(x), (128,))
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            yield

    model.train()
    for _ in steps(model.parameters(), 400, 2e-3):
        pass
    model.eval()  # BatchNorm statistics stay fixed from here on
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    last = [p for n, p in model.named_parameters() if n.startswith(("bn2.", "out."))]
    for i, _ in enumerate(steps(last, args.k, 1e-2)):
        torch.save(model.state_dict(), out / f"step_{i:04d}.pt")
    print(f"{args.k} checkpoints in {out}")


if __name__ == "__main__":
    main()
