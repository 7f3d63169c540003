"""Before any stage runs: will this config's network, subsets and autoencoder fit together?
Built without weights (on PyTorch's meta device where shapes are all that matter), so a
pattern that matches nothing or an AE that cannot take the subset stops the run at once,
instead of after the checkpoints are trained."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pdiff.callables import is_callable_name
from pdiff.config import ConfigError, ae_settings

# The config sections the check reads: a config that agrees on them was checked already.
CHECKED = (
    "data",
    "network",
    "location",
    "locations",
    "ablations",
    "ae",
    "denoiser",
    "denoisers",
    "collect",
    "align",
)

# An AE of more parameters than this does not fit memory on a laptop or a GPU (4 bytes each,
# plus Adam's two moments and the gradient).
MAX_AE_PARAMETERS = 500_000_000


def _data_shape(data: dict) -> tuple[int, int, int] | None:
    """(channels, classes, image side) of a known data set; None for a user's own."""
    from pdiff.datasets import DATASETS

    if is_callable_name(data["name"]):
        return None
    spec = DATASETS[data["name"]]
    channels = len(spec["mean"]) if spec["storage"] == "uint8" else 3
    return channels, spec["num_classes"], data["image_size"] or spec["image_size"]


def _network(config: dict, shape: tuple[int, int, int]):
    """The config's network without weights, on the meta device."""
    import torch

    from pdiff.networks import build_network

    n = config["network"]
    channels, classes, size = shape
    try:
        with torch.device("meta"):
            return build_network(
                n["name"],
                in_channels=channels,
                num_classes=classes,
                image_size=size,
                input_size=n.get("input_size"),
                **n.get("kwargs", {}),
            )
    except ImportError:
        return None  # an optional library (timm): the stage that needs it says how to install it
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"network '{n['name']}' cannot be built for {config['data']['name']} "
            f"({channels} channels, {classes} classes, {size} px): {e}; fix "
            "network.name or network.kwargs"
        ) from None


def check_runnable(config: dict, checked: str | Path | None = None) -> None:
    """Raise ConfigError naming the key to change when a validated config cannot run: a
    location's pattern matches no tensor of the network, sources from several runs of a
    subset or of a network with running statistics, or the AE cannot take its subset
    (the denoisers take any latent shape; config validation checks their own settings).
    Skipped for a user's own data set (its shape is known only once it is loaded). With
    `checked` (a folder), a config that passed is remembered there and not built again."""
    key = hashlib.sha256(
        json.dumps([config.get(k) for k in CHECKED], sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    marker = Path(checked) / key if checked else None
    if marker is not None and marker.exists():
        return
    shape = _data_shape(config["data"])
    if shape is None:
        return
    from pdiff.subset import LayerPatternError, ParameterSubset

    model = _network(config, shape)
    if model is None:
        return
    for location in dict.fromkeys([config["location"], *config["ablations"]["location"]]):
        try:
            subset = ParameterSubset.from_model(model, config["locations"][location])
        except LayerPatternError as e:
            raise ConfigError(
                f"locations.{location}: {e}. Fix the pattern (glob syntax, e.g. 'bn3.*')"
            ) from None
        # every autoencoder in use: the ae section's and those of denoisers with their own
        names = [config["denoiser"], *config["ablations"]["denoiser"]]
        aes = {json.dumps(ae_settings(config, n), sort_keys=True) for n in [None, *names]}
        for ae in sorted(aes):
            _check_autoencoder(json.loads(ae), subset, location)
        if config["collect"]["runs"] > 1:
            _check_runs(config, model, subset, location)
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def _check_runs(config: dict, model, subset, location: str) -> None:
    """Sources from several runs: the location is the whole network, the network has no
    running statistics, and alignment, where asked, can permute it."""
    from pdiff.alignment import AlignmentError, permutation_spec
    from pdiff.runs import check_independent_runs

    runs = config["collect"]["runs"]
    try:
        check_independent_runs(model, subset.names)
    except ValueError as e:
        raise ConfigError(f"collect.runs = {runs}, location '{location}': {e}") from None
    if "weights" in [config["align"], *config["ablations"]["align"]]:
        try:
            permutation_spec(model)
        except AlignmentError as e:
            raise ConfigError(
                f"align: weights, network '{config['network']['name']}': {e}"
            ) from None


def _check_autoencoder(ae: dict, subset, location: str) -> None:
    """Build the AE for this subset (a ParameterSubset) and pass one row through it."""
    import torch

    from pdiff.autoencoder import autoencoder_config, build_autoencoder

    conf = autoencoder_config(ae, subset)
    try:
        # The chunked AE computes its token layout from D: built for real, one row through
        # it; the flat AE's size grows with D: built on the meta device, which holds no data.
        device = torch.device("cpu" if ae["kind"] == "chunked" else "meta")
        with device, torch.no_grad():
            model = build_autoencoder(conf)
            model.decode(model.encode(torch.zeros(1, subset.dim)))
    except (RuntimeError, ValueError) as e:
        raise ConfigError(
            f"the {ae['kind']} autoencoder cannot take location '{location}' "
            f"(D = {subset.dim}): {e}; change ae.channels, ae.latent_channels, "
            "ae.latent_length or ae.chunk_size"
        ) from None
    size = sum(p.numel() for p in model.parameters())
    if size > MAX_AE_PARAMETERS:
        raise ConfigError(
            f"location '{location}' has D = {subset.dim:,} parameters: the {ae['kind']} AE "
            f"would hold {size:,}. Use ae.kind: chunked (memory linear in D), or fewer "
            "ae.channels / a smaller latent"
        )
