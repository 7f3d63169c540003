"""A trained p-diff generator from Python, without Snakemake: sample new parameter sets of
one variant and turn them into complete networks.

    from pdiff import ParameterGenerator
    gen = ParameterGenerator.from_results(
        "results/fmnist_small_cnn/seed0/last_two_bn/k200/noise-both/ldm-conv",
        config="config.yaml")
    rows = gen.sample(1000, seed=1, sampler="ddim-50")   # (1000, D) parameter rows
    models = gen.modules(rows[:10])                       # networks ready for evaluation

The `generate` stage samples through the same code, so the same seed and sampler give the
rows of its `generated.safetensors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pdiff.autoencoder import NoisyAutoencoder, build_autoencoder
from pdiff.config import ConfigError, merge, read_yaml, validate_config
from pdiff.data import data_shape
from pdiff.io import ArtifactError, load_json, load_module, load_tensors
from pdiff.networks import build_network
from pdiff.subset import ParameterSubset


def parse_sampler(name: str) -> tuple[str, int]:
    """'ddim-50' -> ('ddim', 50)."""
    kind, _, steps = name.partition("-")
    if not steps.isdigit():
        raise ValueError(f"sampler '{name}' is not of the form KIND-STEPS (e.g. ddpm-1000)")
    return kind, int(steps)


def scheduler(ldm: dict, kind: str = "ddpm"):
    """The noise scheduler of ldm settings (SCHEDULE_KEYS), as DDPM or DDIM."""
    # diffusers (and torch._dynamo, which it loads) take seconds to import: only what
    # trains or samples the DDPM does.
    from pdiff.diffusion import make_scheduler

    return make_scheduler(
        kind,
        ldm["timesteps"],
        ldm["beta_start"],
        ldm["beta_end"],
        ldm["beta_schedule"],
        ldm["prediction"],
        ldm["clip_sample"],
    )


def load_autoencoder(path: str | Path) -> NoisyAutoencoder:
    """A trained parameter autoencoder (`ae.safetensors`), in eval mode."""
    state, conf = load_module(path)
    ae = build_autoencoder(conf)
    ae.load_state_dict(state)
    return ae.eval()


SCHEDULE_KEYS = (
    "timesteps",
    "beta_start",
    "beta_end",
    "beta_schedule",
    "prediction",
    "clip_sample",
)


@dataclass
class TrainedLDM:
    """A trained latent denoiser with what sampling needs: the latent shape, the scale of
    the latents it was trained on, and its noise schedule (ldm settings)."""

    denoiser: nn.Module
    latent_shape: tuple[int, ...]
    latent_mean: torch.Tensor
    latent_std: torch.Tensor
    schedule: dict


def load_ldm(path: str | Path) -> TrainedLDM:
    """A trained latent denoiser (`ldm.safetensors`), in eval mode."""
    from pdiff.denoiser import build_denoiser

    state, conf = load_module(path)
    if "schedule" not in conf:
        raise ArtifactError(
            f"{path} was written by an older pdiff without its noise schedule; "
            "rerun its train_ldm stage (snakemake reruns it)"
        )
    mean, std = state.pop("latent_mean"), state.pop("latent_std")
    shape, schedule = tuple(conf.pop("latent_shape")), conf.pop("schedule")
    denoiser = build_denoiser(conf)
    denoiser.load_state_dict(state)
    return TrainedLDM(denoiser.eval(), shape, mean, std, schedule)


def draw(
    ae: NoisyAutoencoder,
    ldm: TrainedLDM,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    n: int,
    seed: int,
    sampler: str,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """n parameter rows and their latents: latents drawn with `sampler` from `seed`, brought
    back to the AE's latent scale, decoded and de-normalized."""
    from pdiff.diffusion import sample

    kind, steps = parse_sampler(sampler)
    latents = sample(
        ldm.denoiser, scheduler(ldm.schedule, kind), n, ldm.latent_shape, steps, seed, device
    )
    latents = latents * ldm.latent_std + ldm.latent_mean
    with torch.no_grad():
        rows = ae.to(device).decode(latents.to(device)).cpu()
    return rows * std + mean, latents


def network_spec(cfg: dict, data_path: str | Path) -> dict:
    """What `build_network` needs to rebuild the experiment's network: its config and the
    shape of the data."""
    channels, classes, size = data_shape(str(data_path))
    n = cfg["network"]
    return {
        "name": n["name"],
        "kwargs": n.get("kwargs", {}),
        "in_channels": channels,
        "num_classes": classes,
        "image_size": size,
        "input_size": n.get("input_size"),
    }


def complete_state(
    base: dict[str, torch.Tensor], subset: ParameterSubset, row: torch.Tensor
) -> dict[str, torch.Tensor]:
    """A full state dict: the base weights with one generated row in the subset's place."""
    state = {k: v.clone() for k, v in base.items()}
    state.update(subset.unflatten(row))
    return state


def build_from_spec(spec: dict) -> nn.Module:
    """The network a `network_spec` describes, with fresh weights."""
    return build_network(
        spec["name"],
        in_channels=spec["in_channels"],
        num_classes=spec["num_classes"],
        image_size=spec["image_size"],
        input_size=spec.get("input_size"),
        **spec.get("kwargs", {}),
    )


@dataclass
class ParameterGenerator:
    """The AE and latent DDPM of one variant, with the normalization of its parameter matrix,
    the subset's layout and the base weights that complete each generated set."""

    ae: NoisyAutoencoder
    ldm: TrainedLDM
    mean: torch.Tensor
    std: torch.Tensor
    subset: ParameterSubset
    base: dict[str, torch.Tensor]
    cfg: dict
    network: dict

    @classmethod
    def from_files(
        cls,
        cfg: dict,
        *,
        matrix: str | Path,
        layout: str | Path,
        ae: str | Path,
        ldm: str | Path,
        base: str | Path,
        data: str | Path,
    ) -> ParameterGenerator:
        """From the artifacts of one variant, as the pipeline's stages name them."""
        t = load_tensors(matrix)
        return cls(
            load_autoencoder(ae),
            load_ldm(ldm),
            t["mean"],
            t["std"],
            ParameterSubset.from_dict(load_json(layout)),
            load_tensors(base),
            cfg,
            network_spec(cfg, data),
        )

    @classmethod
    def from_results(
        cls, folder: str | Path, config: str | Path | list | dict | None = None
    ) -> ParameterGenerator:
        """From a variant's LDM folder (results/<experiment>/seed<S>/<location>/k<K>/
        noise-<noise>/ldm-<denoiser>, or a sampler folder inside it) and the experiment's
        config: a dict, or config files layered in order as `--configfile` does (default:
        config.yaml of the working directory)."""
        folder = Path(folder)
        if (folder.parent / "ldm.safetensors").exists():
            folder = folder.parent  # a sampler folder inside the LDM's
        models, matrix = folder.parent, folder.parent.parent
        run, results = matrix.parent.parent, matrix.parent.parent.parent
        paths = {
            "matrix": matrix / "param_matrix.safetensors",
            "layout": matrix / "layout.json",
            "ae": models / "ae.safetensors",
            "ldm": folder / "ldm.safetensors",
            "base": run / "base.safetensors",
            "data": results / "data.safetensors",
        }
        missing = [str(p) for p in paths.values() if not p.exists()]
        if missing:
            raise ArtifactError(
                f"{folder} is not a trained variant's LDM folder: missing "
                f"{', '.join(missing)}; give results/<experiment>/seed<S>/"
                "<location>/k<K>/noise-<noise>/ldm-<denoiser> of a finished run"
            )
        return cls.from_files(_config(config), **paths)

    def sample(
        self, n: int, seed: int = 0, sampler: str | None = None, device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        """n new parameter rows (n, D) of the subset: latents drawn with `sampler` (e.g.
        'ddpm-1000', 'ddim-50'; default: the config's generate.sampler) from `seed`,
        decoded and de-normalized. On CPU, the same seed and sampler give the same rows."""
        rows, _ = draw(
            self.ae,
            self.ldm,
            self.mean,
            self.std,
            n=n,
            seed=seed,
            sampler=sampler or self.cfg["generate"]["sampler"],
            device=torch.device(device),
        )
        return rows

    def state_dicts(self, rows: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Complete state dicts: the base weights with each row's subset in place."""
        return [complete_state(self.base, self.subset, row) for row in rows]

    def modules(self, rows: torch.Tensor) -> list[nn.Module]:
        """One network per row, in eval mode."""
        models = []
        for state in self.state_dicts(rows):
            model = build_from_spec(self.network)
            model.load_state_dict(state, strict=True)
            models.append(model.eval())
        return models


def _config(config) -> dict:
    """A validated config from a dict, a config file or a list of them (layered in order)."""
    if isinstance(config, dict):
        return validate_config(merge({}, config))
    files = [config] if isinstance(config, (str, Path)) else list(config or ["config.yaml"])
    layered = {}
    for path in files:
        if not Path(path).exists():
            raise ConfigError(
                f"config file {path} not found; pass the experiment's config "
                "files (e.g. config='config.yaml') or a dict"
            )
        layered = merge(layered, read_yaml(path))
    return validate_config(layered)
