"""Controls without diffusion: latents drawn from plain fits to the sources' latents (or from
a VAE's prior), decoded through the same autoencoder as the generated latents. What the
trained latent DDPM adds is how far its sets beat these (pdiff.reporting.diffusion_verdict).

The Gaussian controls ask the critique's question (Zeng et al., arXiv 2506.07998: are
p-diff's models more than interpolations of their sources?) one level deeper, in the latent
space; the VAE prior is the official code's baseline without diffusion
(workspace/ablation/vae_sample.py).
"""

from __future__ import annotations

import torch

from pdiff.runtime import generator

# Group names in evaluation tables, and their labels in the main table.
CONTROLS = {
    "gaussian_coordinate": "Gaussian per latent coordinate",
    "gaussian_full": "Gaussian with the sources' full latent covariance",
    "vae_prior": "VAE prior N(0, I)",
}


def control_groups(evals) -> list[str]:
    """The control groups an evaluation table holds, in CONTROLS order."""
    present = set(evals["group"])
    return [kind for kind in CONTROLS if kind in present]


def gaussian_coordinate(latents: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """n latents, each value drawn independently from N(mean, std) of that value over the
    source latents."""
    flat = latents.flatten(1)
    std = flat.std(0) if len(flat) > 1 else torch.zeros_like(flat[0])
    draws = flat.mean(0) + std * torch.randn((n, flat.shape[1]), generator=g)
    return draws.view(n, *latents.shape[1:])


def gaussian_full(latents: torch.Tensor, n: int, g: torch.Generator) -> torch.Tensor:
    """n latents from N(mean, covariance) of the source latents, with their full (sample)
    covariance: mean + eps @ (latents - mean) / sqrt(K - 1), eps ~ N(0, I_K), which is exact
    also when the covariance is singular (fewer sources than latent values)."""
    flat = latents.flatten(1)
    mean = flat.mean(0)
    eps = torch.randn((n, len(flat)), generator=g)
    draws = mean + eps @ (flat - mean) / max(len(flat) - 1, 1) ** 0.5
    return draws.view(n, *latents.shape[1:])


FITTED = {"gaussian_coordinate": gaussian_coordinate, "gaussian_full": gaussian_full}


def prior(latent_shape: tuple[int, ...], n: int, g: torch.Generator) -> torch.Tensor:
    """n latents from N(0, I), a VAE's prior."""
    return torch.randn((n, *latent_shape), generator=g)


@torch.no_grad()
def control_sets(
    ae,
    rows: torch.Tensor,
    kinds: list[str],
    n: int,
    seed: int,
    vae=None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{kind: (normalized parameter rows, latents)} of every control kind: latents fitted to
    the noise-free encodings of the normalized source `rows` by `ae` (or, for vae_prior,
    drawn from N(0, I)), decoded by `ae` (the VAE's own decoder for vae_prior). Each kind
    draws from its own generator, so that adding a kind leaves the others' sets as they are."""
    ae.eval()
    latents = ae.encode(rows)
    out = {}
    for kind in kinds:
        g = generator(seed * len(CONTROLS) + list(CONTROLS).index(kind))
        if kind == "vae_prior":
            if vae is None:
                raise ValueError("the vae_prior control needs the trained VAE")
            z = prior(tuple(vae.latent_shape), n, g)
            out[kind] = (vae.eval().decode(z), z)
        else:
            z = FITTED[kind](latents, n, g)
            out[kind] = (ae.decode(z), z)
    return out
