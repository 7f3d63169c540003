"""A trained p-diff generator from Python, without Snakemake: sample new parameter sets of
one variant and turn them into complete networks.

    from pdiff import ParameterGenerator
    gen = ParameterGenerator.load(
        "results/fmnist_small_cnn/seed0/last_two_bn/k200/noise-both/ldm-conv/ddpm-1000/export/generator")
    rows = gen.sample(1000, seed=1, sampler="ddim-50")   # (1000, D) parameter rows
    models = gen.modules(rows[:10])                       # networks ready for evaluation

`snakemake export` writes that folder (ParameterGenerator.save); it needs nothing else. The
`generate` stage samples through the same code (`draw`), so the same seed and sampler give
the rows of its `generated.safetensors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pdiff.autoencoder import NoisyAutoencoder
from pdiff.data import data_shape
from pdiff.io import (
    ArtifactError,
    atomic_dir,
    load_json,
    load_module,
    load_tensors,
    save_json,
    save_tensors,
)
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
    the latents it was trained on, and its noise schedule (ldm settings). Its file: the
    denoiser's weights with `latent_mean` and `latent_std`, and in the metadata the
    denoiser's config with the latent shape and the schedule."""

    denoiser: nn.Module
    latent_shape: tuple[int, ...]
    latent_mean: torch.Tensor
    latent_std: torch.Tensor
    schedule: dict
    config: dict = field(default_factory=dict)  # the denoiser's (pdiff.denoiser.build_denoiser)

    def save(self, path) -> None:
        state = {k: v.cpu() for k, v in self.denoiser.state_dict().items()}
        save_tensors(
            {**state, "latent_mean": self.latent_mean, "latent_std": self.latent_std},
            path,
            metadata={
                "config": {
                    **self.config,
                    "latent_shape": list(self.latent_shape),
                    "schedule": self.schedule,
                }
            },
        )

    @classmethod
    def load(cls, path) -> TrainedLDM:
        """A trained latent denoiser from `save`'s file, in eval mode."""
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
        return cls(denoiser.eval(), shape, mean, std, schedule, conf)


def fit_ldm(
    latents: torch.Tensor, m: dict, *, seed: int, device: torch.device, log=print, resume=None
):
    """The latent DDPM of ldm settings `m` (config.ldm_settings) trained on the sources'
    (noise-free) latents, brought to unit scale (m.latent_norm); `resume`: a
    runtime.Resume. Returns the TrainedLDM and its metrics."""
    from pdiff.denoiser import build_denoiser, denoiser_config
    from pdiff.diffusion import latent_stats, train_denoiser

    mean, std = latent_stats(latents, m["latent_norm"])
    spread = (latents - latents.mean(0)).std().item()
    log(
        f"latents {tuple(latents.shape)}: mean {latents.mean():.4f} std {latents.std():.4f}, "
        f"std across sources {spread:.4f}; normalized '{m['latent_norm']}'"
    )
    conf = denoiser_config(m, tuple(latents.shape[1:]))
    denoiser = build_denoiser(conf)
    log(f"{m['kind']} denoiser with {sum(p.numel() for p in denoiser.parameters())} parameters")
    denoiser, history = train_denoiser(
        denoiser,
        (latents - mean) / std,
        scheduler(m),
        steps=m["steps"],
        batch_size=m["batch_size"],
        lr=m["lr"],
        weight_decay=m["weight_decay"],
        seed=seed,
        device=device,
        lr_schedule=m["lr_schedule"],
        warmup_steps=m["warmup_steps"],
        ema_decay=m["ema_decay"],
        precision=m["precision"],
        log=log,
        log_every=m["log_every"],
        resume=resume,
    )
    schedule = {k: m[k] for k in SCHEDULE_KEYS}
    ldm = TrainedLDM(denoiser, tuple(latents.shape[1:]), mean, std, schedule, conf)
    metrics = {
        "latent_mean": latents.mean().item(),
        "latent_std": latents.std().item(),
        "latent_std_across_sources": spread,
        "history": history,
    }
    return ldm, metrics


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
    the subset's layout, the network and the base weights that complete each generated set.

    `save(folder)` writes it as one self-contained folder (generator.json, autoencoder,
    ldm, normalization and base weights as safetensors); `load(folder)` needs nothing else.
    """

    ae: NoisyAutoencoder
    ldm: TrainedLDM
    mean: torch.Tensor
    std: torch.Tensor
    subset: ParameterSubset
    base: dict[str, torch.Tensor]
    network: dict  # network_spec
    sampler: str = "ddpm-1000"  # the default of `sample`

    FILES = ("generator.json", "autoencoder.safetensors", "ldm.safetensors",
             "normalization.safetensors", "base.safetensors")  # fmt: skip

    def save(self, folder) -> None:
        with atomic_dir(folder) as tmp:
            save_json(
                {"network": self.network, "sampler": self.sampler, "subset": self.subset.to_dict()},
                tmp / "generator.json",
            )
            self.ae.save(tmp / "autoencoder.safetensors")
            self.ldm.save(tmp / "ldm.safetensors")
            save_tensors({"mean": self.mean, "std": self.std}, tmp / "normalization.safetensors")
            save_tensors(self.base, tmp / "base.safetensors")

    @classmethod
    def load(cls, folder) -> ParameterGenerator:
        folder = Path(folder)
        missing = [name for name in cls.FILES if not (folder / name).exists()]
        if missing:
            raise ArtifactError(
                f"{folder} is not a saved generator: missing {', '.join(missing)}; give the "
                "`generator` folder that `snakemake export` writes beside the exported "
                "models (results/<experiment>/seed<S>/.../<sampler>/export/generator)"
            )
        meta, norm = (
            load_json(folder / "generator.json"),
            load_tensors(folder / "normalization.safetensors"),
        )
        return cls(
            NoisyAutoencoder.load(folder / "autoencoder.safetensors"),
            TrainedLDM.load(folder / "ldm.safetensors"),
            norm["mean"],
            norm["std"],
            ParameterSubset.from_dict(meta["subset"]),
            load_tensors(folder / "base.safetensors"),
            meta["network"],
            meta["sampler"],
        )

    def sample(
        self, n: int, seed: int = 0, sampler: str | None = None, device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        """n new parameter rows (n, D) of the subset: latents drawn with `sampler` (e.g.
        'ddpm-1000', 'ddim-50'; default: the variant's own) from `seed`, decoded and
        de-normalized. On CPU, the same seed and sampler give the same rows."""
        rows, _ = draw(
            self.ae,
            self.ldm,
            self.mean,
            self.std,
            n=n,
            seed=seed,
            sampler=sampler or self.sampler,
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
