"""Task networks, built by name from config: the small CNN, torchvision's and timm's image
networks (optionally from pretrained weights), or a user's 'module:function'."""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from pathlib import Path

import torch
from torch import nn

from pdiff.callables import call_with_accepted, is_callable_name, load_callable


def small_cnn(
    in_channels: int = 1,
    num_classes: int = 10,
    image_size: int = 28,
    channels: tuple[int, ...] = (16, 32, 64),
    hidden: int = 64,
    batchnorm: bool = True,
) -> nn.Sequential:
    """Conv-pool-BN-ReLU blocks, then a linear-BN-ReLU layer and a linear head, as one Sequential.

    Flat, so that everything before the first generated layer runs once and is shared by
    every evaluated parameter set (pdiff.evaluation). Pooling before BN keeps the per-set
    work of the default subset (the last two BN layers) small. batchnorm=False leaves the
    BN layers out (the convolutions and the linear layer get biases instead): a network
    whose parameters are all of its state, for sources from independent runs, whose
    running statistics would differ (pdiff.alignment).
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    prev, size = in_channels, image_size
    for i, c in enumerate(channels, start=1):
        layers[f"conv{i}"] = nn.Conv2d(prev, c, 3, padding=1, bias=not batchnorm)
        layers[f"pool{i}"] = nn.MaxPool2d(2)
        if batchnorm:
            layers[f"bn{i}"] = nn.BatchNorm2d(c)
        layers[f"relu{i}"] = nn.ReLU()
        prev, size = c, size // 2
    n = len(channels) + 1
    layers["flatten"] = nn.Flatten()
    layers["fc"] = nn.Linear(prev * size * size, hidden, bias=not batchnorm)
    if batchnorm:
        layers[f"bn{n}"] = nn.BatchNorm1d(hidden)
    layers[f"relu{n}"] = nn.ReLU()
    layers["head"] = nn.Linear(hidden, num_classes)
    return nn.Sequential(layers)


def resnet(
    depth: int, num_classes: int = 10, image_size: int = 32, small_stem: bool | None = None
) -> nn.Module:
    """torchvision's ResNet-18/50; below 64 px (CIFAR, MNIST) with the small-image stem, a
    3x3 stride-1 convolution and no max-pool, so 32 px inputs are not shrunk to 8 px at once."""
    import torchvision

    model = getattr(torchvision.models, f"resnet{depth}")(num_classes=num_classes)
    if small_stem if small_stem is not None else image_size < 64:
        model.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    return model


def torchvision_net(name: str, num_classes: int = 10, image_size: int = 224, **kwargs):
    """A torchvision classifier by its name; ViTs are built for `image_size`."""
    import torchvision

    if name.startswith("vit_"):
        kwargs["image_size"] = image_size
    return torchvision.models.get_model(name, num_classes=num_classes, **kwargs)


def timm_net(name: str, num_classes: int = 10, image_size: int = 224, **kwargs):
    """A timm model (an optional extra: pip install timm)."""
    try:
        import timm
    except ImportError as e:
        raise ImportError(
            f"network '{name}' comes from timm, which is not installed: "
            "pip install timm (or pip install 'pdiff[timm]')"
        ) from e
    return timm.create_model(
        name, pretrained=False, num_classes=num_classes, img_size=image_size, **kwargs
    )


# Config name -> (builder, source of its ImageNet weights: torchvision / timm name).
ARCHITECTURES = {
    "small_cnn": (small_cnn, None),
    "resnet18": (partial(resnet, 18), ("torchvision", "resnet18")),
    "resnet50": (partial(resnet, 50), ("torchvision", "resnet50")),
    "vit_b_16": (partial(torchvision_net, "vit_b_16"), ("torchvision", "vit_b_16")),
    "convnext_tiny": (partial(torchvision_net, "convnext_tiny"), ("torchvision", "convnext_tiny")),
    "convnext_base": (partial(torchvision_net, "convnext_base"), ("torchvision", "convnext_base")),
    "vit_tiny": (partial(timm_net, "vit_tiny_patch16_224"), ("timm", "vit_tiny_patch16_224")),
}


class InputAdapter:
    """Forward pre-hook: grayscale repeated to RGB and inputs resized to the network's size,
    on the device. The stored images stay small (CIFAR at 32 px) while a ViT or a pretrained
    stem sees what it expects; a hook rather than a wrapper keeps the parameter names."""

    def __init__(self, rgb: bool, size: int | None):
        self.rgb, self.size = rgb, size

    def __call__(self, module, args):
        x = args[0]
        if self.rgb and x.shape[-3] == 1:
            x = x.expand(*x.shape[:-3], 3, *x.shape[-2:])
        if self.size and tuple(x.shape[-2:]) != (self.size, self.size):
            x = nn.functional.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False
            )
        return (x, *args[1:])


def build_network(
    name: str,
    in_channels: int,
    num_classes: int,
    image_size: int,
    pretrained: str | None = None,
    input_size: int | None = None,
    **kwargs,
) -> nn.Module:
    """Build a network by its config name (or 'module:function'), from pretrained weights
    when asked; inputs are resized to `input_size` when given.

    The image networks take 3 channels (as their pretrained weights do); grayscale inputs
    are repeated. A 'module:function' is called with the kwargs, plus in_channels,
    num_classes and image_size where its signature takes them.
    """
    size = input_size or image_size
    if is_callable_name(name):
        fn = load_callable(name, "network.name")
        model = call_with_accepted(
            fn, kwargs, dict(in_channels=in_channels, num_classes=num_classes, image_size=size)
        )
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"network.name '{name}' returned {type(model).__name__}, not a torch.nn.Module"
            )
        rgb = False
    elif name in ARCHITECTURES:
        builder, _ = ARCHITECTURES[name]
        rgb = name != "small_cnn"
        if rgb and in_channels not in (1, 3):
            raise ValueError(
                f"network '{name}' takes RGB or grayscale images, the data have "
                f"{in_channels} channels"
            )
        extra = {"in_channels": in_channels} if not rgb else {}
        model = builder(num_classes=num_classes, image_size=size, **extra, **kwargs)
    else:
        raise ValueError(
            f"unknown architecture '{name}'; known: {sorted(ARCHITECTURES)}, "
            "or a 'package.module:function' that builds one"
        )
    if rgb or input_size:
        model.register_forward_pre_hook(InputAdapter(rgb, input_size))
    if pretrained:
        load_pretrained(model, name, pretrained)
    return model


def _imagenet_state(name: str) -> dict[str, torch.Tensor]:
    """ImageNet weights of a known architecture, downloaded (and cached) by its library."""
    source = ARCHITECTURES.get(name, (None, None))[1]
    if source is None:
        raise ValueError(
            f"network.pretrained: imagenet: there are no ImageNet weights for "
            f"'{name}'; give a weights file's path or null"
        )
    library, lib_name = source
    if library == "timm":
        import timm

        return timm.create_model(lib_name, pretrained=True).state_dict()
    import torchvision

    weights = torchvision.models.get_model_weights(lib_name).DEFAULT
    return weights.get_state_dict(progress=False)


def _file_state(path: str) -> dict[str, torch.Tensor]:
    """A state dict from a safetensors file or a torch file (read with weights_only)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"network.pretrained: {path}: no such file; give a weights "
            "file (safetensors or torch state dict), imagenet or null"
        )
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    state = torch.load(str(p), map_location="cpu", weights_only=True)
    if not (isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise ValueError(
            f"network.pretrained: {path} is not a state dict of tensors (keys: "
            f"{list(state)[:5] if isinstance(state, dict) else type(state)})"
        )
    return state


def load_pretrained(model: nn.Module, name: str, pretrained: str) -> list[str]:
    """Load weights (`imagenet` or a file) into the model; return the tensors of another
    shape (a head for other classes, a small-image stem), left at their initialization."""
    state = _imagenet_state(name) if pretrained == "imagenet" else _file_state(pretrained)
    own = model.state_dict()
    unexpected = [k for k in state if k not in own]
    # Old torchvision checkpoints predate BatchNorm's step counter; it does not matter.
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    if unexpected or missing:
        raise ValueError(
            f"network.pretrained: {pretrained} does not fit network '{name}': "
            f"{len(missing)} tensors missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} not in the network (e.g. {unexpected[:3]}); give "
            "weights of the same architecture"
        )
    reshaped = [k for k in state if state[k].shape != own[k].shape]
    model.load_state_dict({k: v for k, v in state.items() if k not in reshaped}, strict=False)
    from pdiff.runtime import get_logger

    get_logger("networks").info(
        f"pretrained weights {pretrained}: {len(state) - len(reshaped)} tensors loaded; left "
        f"at initialization (another shape): {reshaped}"
    )
    return reshaped


def configured_network(cfg: dict, splits, weights: str | None = None) -> nn.Module:
    """The config's network for these data splits; with `weights` (a stage's base model)
    loaded, else from the configured pretrained weights (only train_base starts from those)."""
    from pdiff.io import ArtifactError, load_tensors

    n = cfg["network"]
    model = build_network(
        n["name"],
        in_channels=splits.in_channels,
        num_classes=splits.num_classes,
        image_size=splits.image_size,
        pretrained=None if weights else n.get("pretrained"),
        input_size=n.get("input_size"),
        **n.get("kwargs", {}),
    )
    if weights is not None:
        state = load_tensors(weights)
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise ArtifactError(
                f"{weights}: does not fit network '{cfg['network']['name']}' ({e})"
            ) from e
    return model
