"""Latent diffusion: schedules, samplers and learning-rate schedules from diffusers; training
(with an exponential moving average of the denoiser's weights) and sampling here."""

from __future__ import annotations

import contextlib
import copy

import diffusers
import torch
from diffusers import DDPMScheduler
from diffusers.optimization import get_scheduler
from torch import nn
from tqdm import tqdm

# By name: diffusers imports a scheduler when it is first asked for (DPM-Solver brings
# scipy.stats, most of a second of every stage's start-up).
SCHEDULERS = {
    "ddpm": "DDPMScheduler",
    "ddim": "DDIMScheduler",
    "dpm": "DPMSolverMultistepScheduler",
}


def make_scheduler(
    kind: str,
    timesteps: int = 1000,
    beta_start: float = 1e-4,
    beta_end: float = 2e-2,
    beta_schedule: str = "linear",
    prediction: str = "epsilon",
    clip_sample: float | None = None,
):
    """A diffusers noise scheduler; all kinds share the training schedule and prediction type.

    `clip_sample` clips the predicted clean latent to +-clip_sample at every step (None: no
    clipping). diffusers' DDPM and DDIM clip to +-1 unless told otherwise, which cuts off the
    third of unit-scale latents that lie beyond one standard deviation.
    """
    if kind not in SCHEDULERS:
        raise ValueError(f"unknown sampler '{kind}'; known: {sorted(SCHEDULERS)}")
    extra = {}
    if kind in ("ddpm", "ddim"):
        extra = {"clip_sample": clip_sample is not None, "clip_sample_range": clip_sample or 1.0}
    return getattr(diffusers, SCHEDULERS[kind])(
        num_train_timesteps=timesteps,
        beta_start=beta_start,
        beta_end=beta_end,
        beta_schedule=beta_schedule,
        prediction_type=prediction,
        **extra,
    )


def _target(scheduler, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """What the denoiser learns to predict, by the scheduler's prediction type."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return noise
    if kind == "sample":
        return x0
    return scheduler.get_velocity(x0, noise, t)  # v_prediction


@torch.no_grad()
def _update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    # The decay warms up ((1 + step) / (10 + step), as diffusers' EMAModel does) so the
    # average does not keep the random initialization of short runs.
    d = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1 - d)


def train_denoiser(
    denoiser: nn.Module,
    latents: torch.Tensor,
    scheduler,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    device: torch.device,
    lr_schedule: str = "constant",
    warmup_steps: int = 0,
    ema_decay: float = 0.0,
    precision: str = "fp32",
    log=print,
    log_every: int = 500,
    resume=None,
) -> tuple[nn.Module, list[dict]]:
    """MSE on noised latents at uniformly drawn timesteps, the target by the scheduler's
    prediction type (bf16 autocast on CUDA when `precision` says so). Returns the denoiser
    to sample from (the EMA of its weights when ema_decay > 0, else the trained one) and the
    loss history. With `resume` (runtime.Resume), a stopped run's state is taken up and the
    state is kept as training goes."""
    from pdiff.runtime import autocast

    g = torch.Generator().manual_seed(seed)
    denoiser.to(device).train()
    ema = copy.deepcopy(denoiser).eval().requires_grad_(False) if ema_decay > 0 else None
    opt = torch.optim.AdamW(denoiser.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
    schedule = get_scheduler(
        lr_schedule, opt, num_warmup_steps=warmup_steps, num_training_steps=steps
    )
    T = scheduler.config.num_train_timesteps
    parts = {"model": denoiser, "optimizer": opt, "schedule": schedule}
    if ema is not None:
        parts["ema"] = ema
    history, start = resume.take_up(parts, g) if resume is not None else ([], 1)
    with resume.between_steps() if resume is not None else contextlib.nullcontext():
        for step in tqdm(
            range(start, steps + 1), desc="ldm", mininterval=5, initial=start - 1, total=steps
        ):
            idx = torch.randint(len(latents), (batch_size,), generator=g)
            x0 = latents[idx]
            noise = torch.randn(x0.shape, generator=g)
            t = torch.randint(T, (batch_size,), generator=g)
            xt = scheduler.add_noise(x0, noise, t)
            target = _target(scheduler, x0, noise, t)
            with autocast(device, precision):
                predicted = denoiser(xt.to(device), t.to(device)).float()
            loss = nn.functional.mse_loss(predicted, target.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            if ema is not None:
                _update_ema(ema, denoiser, ema_decay, step)
            if step % log_every == 0 or step == steps:
                history.append({"step": step, "loss": loss.item(), "lr": schedule.get_last_lr()[0]})
                log(f"ldm step {step}: loss {loss.item():.5f} lr {schedule.get_last_lr()[0]:.3g}")
            if resume is not None:
                resume.after_step(parts, g, history, step, steps)
    denoiser.eval()
    return (ema if ema is not None else denoiser), history


@torch.no_grad()
def sample(
    denoiser: nn.Module,
    scheduler,
    n: int,
    shape: tuple[int, ...],
    steps: int,
    seed: int,
    device: torch.device,
) -> torch.Tensor:
    """Draw n latents by running the scheduler's reverse process for `steps` steps."""
    g = torch.Generator().manual_seed(seed)
    denoiser.to(device).eval()
    scheduler.set_timesteps(steps)
    x = torch.randn((n, *shape), generator=g) * scheduler.init_noise_sigma
    for t in tqdm(scheduler.timesteps, desc="sample", mininterval=5):
        out = denoiser(x.to(device), t.to(device)).cpu()
        # The generator keeps DDPM's per-step noise reproducible; other samplers ignore it.
        kwargs = {"generator": g} if isinstance(scheduler, DDPMScheduler) else {}
        x = scheduler.step(out, t, x, **kwargs).prev_sample
    return x


def latent_stats(latents: torch.Tensor, norm: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std (broadcastable to one latent) that bring the source latents to unit
    scale for the DDPM. none: as they are (the official code's); global: one std about zero;
    channel: per latent channel; coordinate: per latent element, over the K sources, so the
    DDPM models how sources differ rather than the offset they share."""
    if norm == "none":
        return torch.zeros(1, 1), torch.ones(1, 1)
    if norm == "global":
        mean, std = torch.zeros(1, 1), latents.std().reshape(1, 1)
    elif norm == "channel":
        mean, std = latents.mean((0, 2)).unsqueeze(1), latents.std((0, 2)).unsqueeze(1)
    else:
        mean = latents.mean(0)
        std = latents.std(0) if len(latents) > 1 else torch.zeros_like(mean)
    # A coordinate on which all sources agree is kept at their value, not blown up.
    floor = 1e-3 * std.max().item() + 1e-8
    return mean, std.clamp_min(floor)
