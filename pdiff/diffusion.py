"""Latent diffusion: schedules and samplers from diffusers; training and sampling here."""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from torch import nn
from tqdm import tqdm

SCHEDULERS = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "dpm": DPMSolverMultistepScheduler}


def make_scheduler(kind: str, timesteps: int = 1000, beta_start: float = 1e-4,
                   beta_end: float = 2e-2, beta_schedule: str = "linear"):
    """A diffusers noise scheduler; all kinds share the training schedule (epsilon prediction)."""
    if kind not in SCHEDULERS:
        raise ValueError(f"unknown sampler '{kind}'; known: {sorted(SCHEDULERS)}")
    return SCHEDULERS[kind](num_train_timesteps=timesteps, beta_start=beta_start,
                            beta_end=beta_end, beta_schedule=beta_schedule,
                            prediction_type="epsilon")


def train_denoiser(denoiser: nn.Module, latents: torch.Tensor, scheduler, *, steps: int,
                   batch_size: int, lr: float, weight_decay: float, seed: int,
                   device: torch.device, log=print, log_every: int = 500) -> list[dict]:
    """Epsilon-prediction MSE on noised latents at uniformly drawn timesteps."""
    g = torch.Generator().manual_seed(seed)
    denoiser.to(device).train()
    opt = torch.optim.AdamW(denoiser.parameters(), lr=lr, weight_decay=weight_decay)
    T = scheduler.config.num_train_timesteps
    history = []
    for step in tqdm(range(1, steps + 1), desc="ldm", mininterval=5):
        idx = torch.randint(len(latents), (batch_size,), generator=g)
        x0 = latents[idx]
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(T, (batch_size,), generator=g)
        xt = scheduler.add_noise(x0, noise, t)
        loss = nn.functional.mse_loss(denoiser(xt.to(device), t.to(device)), noise.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            history.append({"step": step, "loss": loss.item()})
            log(f"ldm step {step}: loss {loss.item():.5f}")
    denoiser.eval()
    return history


@torch.no_grad()
def sample(denoiser: nn.Module, scheduler, n: int, shape: tuple[int, ...], steps: int,
           seed: int, device: torch.device) -> torch.Tensor:
    """Draw n latents by running the scheduler's reverse process for `steps` steps."""
    g = torch.Generator().manual_seed(seed)
    denoiser.to(device).eval()
    scheduler.set_timesteps(steps)
    x = torch.randn((n, *shape), generator=g) * scheduler.init_noise_sigma
    for t in tqdm(scheduler.timesteps, desc="sample", mininterval=5):
        eps = denoiser(x.to(device), t.to(device)).cpu()
        # The generator keeps DDPM's per-step noise reproducible; other samplers ignore it.
        kwargs = {"generator": g} if isinstance(scheduler, DDPMScheduler) else {}
        x = scheduler.step(eps, t, x, **kwargs).prev_sample
    return x
