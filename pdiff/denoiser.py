"""Latent denoisers, conditioned on the diffusion timestep: the official p-diff code's 1-D
conv U-Net (`PaperDenoiser`), pdiff's own 1-D conv residual network over latent channels
(`LatentDenoiser`), and a transformer that sees every latent token of the row at once (as
later work does for whole networks).

All take and return (B, C, L) latents; `build_denoiser` makes one from its stored config.
pdiff's own sizes have no defaults here: the config's come from pdiff/config.schema.yaml, the
one place defaults live (denoiser_config maps them); `PaperDenoiser`'s are the official code's.
"""

from __future__ import annotations

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn


class _TimeConditioned(nn.Module):
    """The sinusoidal timestep embedding (`time_dim` values, cos first) and its MLP
    (Linear-SiLU-Linear to `out_dim` values, default time_dim), shared by every denoiser."""

    def __init__(self, time_dim: int, out_dim: int | None = None):
        super().__init__()
        self.time_proj = Timesteps(time_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(time_dim, out_dim or time_dim)

    def embed_time(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1).expand(len(x)) if t.numel() == 1 else t
        return self.time_embed(self.time_proj(t).to(x.dtype))


class ResBlock1d(nn.Module):
    """GroupNorm-SiLU-Conv twice, with the time embedding added in between."""

    def __init__(self, channels: int, time_dim: int):
        super().__init__()
        groups = min(8, channels)
        self.norm1 = nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1)
        self.time = nn.Linear(time_dim, channels)
        self.norm2 = nn.GroupNorm(groups, channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.time(temb).unsqueeze(-1)
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return x + h


class LatentDenoiser(_TimeConditioned):
    """1-D conv residual blocks along the latent length, the latent's C values per position
    as channels, one time embedding per block broadcast over positions (pdiff's own)."""

    def __init__(self, latent_channels: int, channels: int, blocks: int, time_dim: int):
        super().__init__(time_dim)
        self.inp = nn.Conv1d(latent_channels, channels, 3, padding=1)
        self.blocks = nn.ModuleList([ResBlock1d(channels, time_dim) for _ in range(blocks)])
        self.out = nn.Sequential(
            nn.GroupNorm(min(8, channels), channels),
            nn.SiLU(),
            nn.Conv1d(channels, latent_channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.embed_time(t, x)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, temb)
        return self.out(h)


class TransformerBlock(nn.Module):
    """Pre-norm self-attention and MLP whose norms are scaled and shifted by the timestep
    (adaptive LayerNorm, as in DiT), so every layer knows the noise level."""

    def __init__(self, width: int, heads: int, time_dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )
        self.modulation = nn.Linear(time_dim, 6 * width)
        # Zero-initialized gates: each block starts as the identity.
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = (
            self.modulation(nn.functional.silu(temb)).unsqueeze(1).chunk(6, dim=-1)
        )
        a = self.norm1(h) * (1 + scale1) + shift1
        h = h + gate1 * self.attn(a, a, a, need_weights=False)[0]
        m = self.norm2(h) * (1 + scale2) + shift2
        return h + gate2 * self.mlp(m)


class TransformerDenoiser(_TimeConditioned):
    """Every latent position is a token (its C channels embedded to `width`) with a learned
    embedding of where it sits in the row (which tensor, which chunk); `blocks` transformer
    blocks let each token see all the others."""

    def __init__(
        self,
        latent_channels: int,
        latent_length: int,
        width: int,
        blocks: int,
        heads: int,
        time_dim: int,
    ):
        super().__init__(time_dim)
        self.inp = nn.Linear(latent_channels, width)
        self.position = nn.Parameter(torch.randn(latent_length, width) * 0.02)
        self.blocks = nn.ModuleList(
            [TransformerBlock(width, heads, time_dim) for _ in range(blocks)]
        )
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, latent_channels)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.embed_time(t, x)
        h = self.inp(x.transpose(1, 2)) + self.position
        for block in self.blocks:
            h = block(h, temb)
        return self.out(self.norm(h)).transpose(1, 2)


class PaperDenoiser(_TimeConditioned):
    """The official p-diff denoiser (`OneDimCNN`, model/denoiser.py of the official code): the
    latent flattened to one channel of length C x L; Conv1d layers (kernel 7) through
    `channels`, each but the last followed by BatchNorm1d + ELU, the encoder half's outputs
    added to the decoder half's inputs (U-Net skips). The timestep's sinusoidal embedding
    (`frequencies` values, cos first) goes through Linear-SiLU-Linear to one value per latent
    position and is added along the sequence before every convolution, so each position
    gets its own time offset."""

    def __init__(
        self,
        latent_length: int,
        channels: tuple[int, ...] = (1, 64, 128, 256, 512, 256, 128, 64, 1),
        kernel: int = 7,
        frequencies: int = 256,
    ):
        super().__init__(frequencies, latent_length)
        if channels[0] != 1 or channels[-1] != 1:
            raise ValueError(f"channels {channels} must start and end with 1")
        half = len(channels) // 2 + 1  # encoder layers, as the official code splits them
        self.skips = half - 2

        def layer(a, b):
            norm = nn.Sequential(nn.BatchNorm1d(b), nn.ELU()) if b != 1 else nn.Identity()
            return nn.ModuleList([nn.Conv1d(a, b, kernel, 1, kernel // 2), norm])

        pairs = list(zip(channels[:-1], channels[1:], strict=True))
        self.down = nn.ModuleList([layer(a, b) for a, b in pairs[:half]])
        self.up = nn.ModuleList([layer(a, b) for a, b in pairs[half:]])

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        h = x.reshape(len(x), 1, -1)
        temb = self.embed_time(t, h).unsqueeze(1)
        kept = []
        for i, (conv, norm) in enumerate(self.down):
            h = norm(conv(h + temb))
            if i < self.skips:
                kept.append(h)
        for i, (conv, norm) in enumerate(self.up):
            h = norm(conv(h + kept[-i - 1] + temb))
        return h.reshape(shape)


DENOISERS = {"conv": LatentDenoiser, "transformer": TransformerDenoiser, "paper": PaperDenoiser}


def build_denoiser(conf: dict) -> nn.Module:
    """A denoiser from its stored config ({"kind": ..., **constructor arguments})."""
    conf = dict(conf)
    return DENOISERS[conf.pop("kind", "conv")](**conf)


def denoiser_config(m: dict, latent_shape: tuple[int, int]) -> dict:
    """The denoiser's constructor arguments from its ldm settings and the latent shape (stored
    with its weights; build_denoiser takes them)."""
    if m["kind"] == "paper":
        return {
            "kind": "paper",
            "latent_length": latent_shape[0] * latent_shape[1],
            "channels": list(m["layer_channels"]),
        }
    if m["kind"] == "transformer":
        return {
            "kind": "transformer",
            "latent_channels": latent_shape[0],
            "latent_length": latent_shape[1],
            "width": m["channels"],
            "blocks": m["blocks"],
            "heads": m["heads"],
            "time_dim": m["time_dim"],
        }
    return {
        "kind": "conv",
        "latent_channels": latent_shape[0],
        "channels": m["channels"],
        "blocks": m["blocks"],
        "time_dim": m["time_dim"],
    }
