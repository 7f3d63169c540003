"""The latent denoiser: a 1-D conv residual network conditioned on the diffusion timestep."""

from __future__ import annotations

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from torch import nn


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


class LatentDenoiser(nn.Module):
    """Predicts the noise in a (B, C, L) latent at timestep t (epsilon prediction)."""

    def __init__(self, latent_channels: int, channels: int = 128, blocks: int = 4,
                 time_dim: int = 128):
        super().__init__()
        self.time_proj = Timesteps(time_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(time_dim, time_dim)
        self.inp = nn.Conv1d(latent_channels, channels, 3, padding=1)
        self.blocks = nn.ModuleList([ResBlock1d(channels, time_dim) for _ in range(blocks)])
        self.out = nn.Sequential(nn.GroupNorm(min(8, channels), channels), nn.SiLU(),
                                 nn.Conv1d(channels, latent_channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.reshape(-1).expand(len(x)) if t.numel() == 1 else t
        temb = self.time_embed(self.time_proj(t).to(x.dtype))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, temb)
        return self.out(h)
