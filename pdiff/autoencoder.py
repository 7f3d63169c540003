"""Parameter autoencoders: 1-D convolutions over a parameter row, noise-augmented.

Three ways to read a row: `PaperAutoencoder` is the official p-diff code's (`OneDimVAE` in
model/pdiff.py of NUS-HPC-AI-Lab/Neural-Network-Diffusion), `ParameterAutoencoder` is
pdiff's own smaller flat design (the row as one sequence; its linear layer grows with D), and
`ChunkedParameterAutoencoder` reads per-tensor chunks of a fixed length (later work's design;
memory grows linearly with D, for whole networks).

pdiff's own sizes have no defaults here: the config's come from pdiff/config.schema.yaml, the
one place defaults live (autoencoder_config maps them); the official design's defaults are
the official code's.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from tqdm import tqdm

from pdiff import runtime
from pdiff.io import load_module, save_module


def _block(cin: int, cout: int, transpose: bool) -> nn.Sequential:
    conv = (
        nn.ConvTranspose1d(cin, cout, 4, stride=2, padding=1)
        if transpose
        else nn.Conv1d(cin, cout, 4, stride=2, padding=1)
    )
    return nn.Sequential(conv, nn.GroupNorm(1, cout), nn.LeakyReLU(0.2))


class NoisyAutoencoder(nn.Module):
    """An encode/decode pair trained with noise on its input and on its latent.

    A variational one (`variational = True`, with `encode_distribution`) is trained with its
    own posterior noise and a KL term instead of a fixed latent noise, so that decoding
    N(0, I) samples is meaningful (the official code's VAE baseline)."""

    variational = False
    config: dict  # what rebuilds it ({"kind": ..., **constructor arguments}), set when built

    def save(self, path) -> None:
        """Weights and the config that rebuilds them, in one safetensors file."""
        save_module(self, self.config, path)

    @staticmethod
    def load(path) -> NoisyAutoencoder:
        """A trained autoencoder from `save`'s file, in eval mode."""
        state, conf = load_module(path)
        ae = build_autoencoder(conf)
        ae.load_state_dict(state)
        return ae.eval()

    def forward(
        self,
        x: torch.Tensor,
        input_noise: float = 0.0,
        latent_noise: float = 0.0,
        generator: torch.Generator | None = None,
        relative_latent_noise: bool = False,
    ):
        """Reconstruct x, with Gaussian noise added to the input and to the latent;
        `relative_latent_noise` scales the latent noise by the batch latents' std."""
        if input_noise > 0:
            x = x + input_noise * _randn_like(x, generator)
        z = self.encode(x)
        if latent_noise > 0:
            scale = z.detach().std() if relative_latent_noise else 1.0
            z = z + latent_noise * scale * _randn_like(z, generator)
        return self.decode(z)


class ParameterAutoencoder(NoisyAutoencoder):
    """Encoder: stride-2 Conv1d blocks and a linear layer to a (latent_channels, latent_length)
    latent; decoder: the mirror image. The row is zero-padded to a multiple of 2^blocks."""

    def __init__(
        self,
        dim: int,
        channels: tuple[int, ...],
        latent_channels: int,
        latent_length: int,
    ):
        super().__init__()
        self.dim = dim
        self.latent_shape = (latent_channels, latent_length)
        scale = 2 ** len(channels)
        self.padded = -(-dim // scale) * scale
        self.reduced = self.padded // scale
        chans = (1, *channels)
        pairs = list(zip(chans[:-1], chans[1:], strict=True))
        self.encoder = nn.Sequential(*[_block(a, b, False) for a, b in pairs])
        latent_dim = latent_channels * latent_length
        self.to_latent = nn.Linear(channels[-1] * self.reduced, latent_dim)
        self.from_latent = nn.Linear(latent_dim, channels[-1] * self.reduced)
        self.decoder = nn.Sequential(
            *[_block(b, a, True) for a, b in reversed(pairs[1:])],
            nn.ConvTranspose1d(chans[1], 1, 4, stride=2, padding=1),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) normalized parameters -> (B, C, L) latents."""
        h = nn.functional.pad(x, (0, self.padded - self.dim)).unsqueeze(1)
        h = self.encoder(h).flatten(1)
        return self.to_latent(h).view(-1, *self.latent_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, L) latents -> (B, D) normalized parameters."""
        h = self.from_latent(z.flatten(1)).view(len(z), -1, self.reduced)
        return self.decoder(h).squeeze(1)[:, : self.dim]


class ChunkedParameterAutoencoder(NoisyAutoencoder):
    """Each tensor's elements are cut into chunks of `chunk` values (the last one zero-padded,
    so no chunk straddles two tensors); a chunk is one token. Encoder: a shared linear
    embedding of each token plus a learned position embedding, then convolutions along the
    token axis; the latent is (latent_channels, number of chunks). Decoder: the mirror image,
    plus a learned offset per coordinate. Keep channels[0] >= chunk, so that a chunk's
    embedding can hold all of its values.
    """

    def __init__(
        self,
        sizes: list[int],
        chunk: int,
        channels: tuple[int, ...],
        latent_channels: int,
    ):
        super().__init__()
        self.dim = sum(sizes)
        self.sizes, self.chunk = list(sizes), chunk
        # For every slot of the (chunks x chunk) grid, the row column it holds (dim = padding).
        slots, offset = [], 0
        for n in sizes:
            cols = torch.arange(offset, offset + n)
            pad = math.ceil(n / chunk) * chunk - n
            slots.append(torch.cat([cols, torch.full((pad,), self.dim)]))
            offset += n
        slots = torch.cat(slots)
        self.register_buffer("slots", slots, persistent=False)
        # Where each of the D columns sits in the flattened grid (to read the decoder's output).
        self.register_buffer("columns", (slots < self.dim).nonzero().squeeze(1), persistent=False)
        self.num_chunks = len(slots) // chunk
        self.latent_shape = (latent_channels, self.num_chunks)
        width = channels[0]
        self.embed = nn.Linear(chunk, width)
        self.position = nn.Parameter(torch.randn(width, self.num_chunks) * 0.02)
        self.position_out = nn.Parameter(torch.randn(channels[-1], self.num_chunks) * 0.02)
        self.encoder = nn.Sequential(
            *[_token_block(a, b) for a, b in zip(channels[:-1], channels[1:], strict=True)],
            nn.Conv1d(channels[-1], latent_channels, 1),
        )
        back = list(reversed(channels))
        self.from_latent = nn.Conv1d(latent_channels, back[0], 1)
        self.decoder = nn.Sequential(
            *[_token_block(a, b) for a, b in zip(back[:-1], back[1:], strict=True)]
        )
        self.unembed = nn.Linear(width, chunk)
        # A learned value per coordinate: what all rows share needs no latent capacity, and
        # a shared `unembed` alone could only reach a width-dimensional subspace per chunk.
        self.offset = nn.Parameter(torch.zeros(self.dim))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) normalized parameters -> (B, latent_channels, chunks) latents."""
        padded = nn.functional.pad(x, (0, 1))
        tokens = padded[:, self.slots].view(len(x), self.num_chunks, self.chunk)
        h = self.embed(tokens).transpose(1, 2) + self.position
        return self.encoder(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_channels, chunks) latents -> (B, D) normalized parameters."""
        h = self.decoder(self.from_latent(z) + self.position_out)
        return self.unembed(h.transpose(1, 2)).flatten(1)[:, self.columns] + self.offset


class PaperAutoencoder(NoisyAutoencoder):
    """The official p-diff autoencoder (`OneDimVAE`, model/pdiff.py of the official code):
    the row zero-padded to a multiple of `pad_to` and read as one channel; encoder blocks of
    Conv1d (kernel 7, stride 2) + BatchNorm1d + LeakyReLU over `channels`, a linear layer to
    a `latent_dim`-value latent and a second one (mu). Decoder: a linear layer back,
    ConvTranspose1d (stride 2) + BatchNorm1d + ELU blocks in reverse, a last transposed
    block at the first width and a Conv1d to one channel. Latents are (B, 1, latent_dim).
    With `variational`, a third linear layer gives the log-variance (the official VAE
    baseline of workspace/ablation/vae_sample.py)."""

    def __init__(
        self,
        dim: int,
        channels: tuple[int, ...] = (64, 128, 256, 256, 32),
        latent_dim: int = 128,
        kernel: int = 7,
        pad_to: int = 64,
        variational: bool = False,
    ):
        super().__init__()
        scale = 2 ** len(channels)
        if pad_to % scale:
            raise ValueError(f"pad_to {pad_to} is not a multiple of 2^{len(channels)}")
        self.dim, self.variational = dim, variational
        self.padded = -(-dim // pad_to) * pad_to
        self.reduced = self.padded // scale
        self.latent_shape = (1, latent_dim)
        chans, pad = (1, *channels), kernel // 2
        self.encoder = nn.Sequential(
            *[
                nn.Sequential(nn.Conv1d(a, b, kernel, 2, pad), nn.BatchNorm1d(b), nn.LeakyReLU())
                for a, b in zip(chans[:-1], chans[1:], strict=True)
            ]
        )
        self.to_latent = nn.Linear(channels[-1] * self.reduced, latent_dim)
        self.fc_mu = nn.Linear(latent_dim, latent_dim)
        self.fc_var = nn.Linear(latent_dim, latent_dim) if variational else None
        self.from_latent = nn.Linear(latent_dim, channels[-1] * self.reduced)
        back = list(reversed(channels))
        self.decoder = nn.Sequential(
            *[_up_block(a, b, kernel) for a, b in zip(back[:-1], back[1:], strict=True)],
            _up_block(back[-1], back[-1], kernel),
            nn.Conv1d(back[-1], 1, kernel, 1, pad),
        )

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.pad(x, (0, self.padded - self.dim)).unsqueeze(1)
        return self.to_latent(self.encoder(h).flatten(1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) normalized parameters -> (B, 1, latent_dim) latents (mu)."""
        return self.fc_mu(self._hidden(x)).unsqueeze(1)

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log-variance) of a variational autoencoder's posterior, each (B, 1, L)."""
        h = self._hidden(x)
        return self.fc_mu(h).unsqueeze(1), self.fc_var(h).unsqueeze(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 1, latent_dim) latents -> (B, D) normalized parameters."""
        h = self.from_latent(z.flatten(1)).view(len(z), -1, self.reduced)
        return self.decoder(h).squeeze(1)[:, : self.dim]


def _up_block(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose1d(cin, cout, kernel, 2, kernel // 2, output_padding=1),
        nn.BatchNorm1d(cout),
        nn.ELU(),
    )


def _token_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(cin, cout, 3, padding=1), nn.GroupNorm(1, cout), nn.LeakyReLU(0.2)
    )


AUTOENCODERS = {
    "flat": ParameterAutoencoder,
    "chunked": ChunkedParameterAutoencoder,
    "paper": PaperAutoencoder,
}


def build_autoencoder(conf: dict) -> NoisyAutoencoder:
    """An autoencoder from its config ({"kind": ..., **constructor arguments})."""
    args = dict(conf)
    ae = AUTOENCODERS[args.pop("kind", "flat")](**args)
    ae.config = dict(conf)
    return ae


def _randn_like(t: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(t.shape, generator=generator).to(t.device)


def train_autoencoder(
    ae: NoisyAutoencoder,
    rows: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    input_noise: float,
    latent_noise: float,
    seed: int,
    device: torch.device,
    lr_schedule: str = "constant",
    relative_latent_noise: bool = False,
    kl_weight: float = 0.0,
    precision: str = "fp32",
    log=print,
    log_every: int = 500,
    eval_every: int = 0,
    on_eval=None,
    resume: runtime.Resume | None = None,
) -> list[dict]:
    """MSE reconstruction of normalized rows, with input and latent noise augmentation (a
    variational AE: its own posterior noise and `kl_weight` times the KL term instead).

    `lr_schedule` (LR_SCHEDULES): cosine decays to 0 at the last step, as the official
    code's CosineAnnealingLR and diffusers' cosine schedule do; bf16 `precision` autocasts
    on CUDA only. Every `eval_every` steps and at the end, `on_eval(ae)` may return extra
    metrics (e.g. accuracy of the rebuilt sources) that are logged and kept in the history.
    With `resume` (runtime.Resume), a stopped run's state is taken up and the state is kept
    as training goes.
    """
    g = torch.Generator().manual_seed(seed)
    ae.to(device).train()
    # foreach: the loop's arithmetic, one kernel per operation over all tensors (a CPU's
    # default is the loop); steps 16% faster on the flat AE of 5.4M parameters, the same bytes.
    opt = torch.optim.AdamW(ae.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, LR_SCHEDULES[lr_schedule](steps))
    parts = {"model": ae, "optimizer": opt, "schedule": schedule}
    history, start = resume.take_up(parts, g) if resume is not None else ([], 1)
    with resume.between_steps() if resume is not None else contextlib.nullcontext():
        for step in tqdm(
            range(start, steps + 1), desc="ae", mininterval=5, initial=start - 1, total=steps
        ):
            idx = torch.randint(len(rows), (min(batch_size, len(rows)),), generator=g)
            x = rows[idx].to(device)
            with runtime.autocast(device, precision):
                if ae.variational:
                    loss = _variational_loss(ae, x, input_noise, kl_weight, g)
                else:
                    rebuilt = ae(x, input_noise, latent_noise, g, relative_latent_noise)
                    loss = nn.functional.mse_loss(rebuilt.float(), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            evaluate = on_eval is not None and (
                step == steps or (eval_every > 0 and step % eval_every == 0)
            )
            if step % log_every == 0 or evaluate or step == steps:
                entry = {"step": step, "loss": loss.item()}
                if evaluate:
                    ae.eval()
                    entry.update(on_eval(ae))
                    ae.train()
                history.append(entry)
                log("ae " + " ".join(f"{k} {v:.5g}" for k, v in entry.items()))
            if resume is not None:
                resume.after_step(parts, g, history, step, steps)
    ae.eval()
    return history


# Learning-rate factor at each step of a run of `steps` steps (diffusers' schedules without
# warm-up; written out because importing diffusers costs this stage seconds of start-up).
LR_SCHEDULES = {
    "constant": lambda steps: lambda i: 1.0,
    "cosine": lambda steps: lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)),
    "linear": lambda steps: lambda i: max(0.0, 1 - i / steps),
}


def _variational_loss(ae, x, input_noise, kl_weight, g) -> torch.Tensor:
    """Reconstruction from a posterior sample plus kl_weight x KL(posterior || N(0, I)),
    summed over latent values and averaged over the batch (the official VAE baseline)."""
    if input_noise > 0:
        x_in = x + input_noise * _randn_like(x, g)
    else:
        x_in = x
    mu, logvar = ae.encode_distribution(x_in)
    z = mu + torch.exp(0.5 * logvar) * _randn_like(mu, g)
    kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp())).flatten(1).sum(1).mean()
    return nn.functional.mse_loss(ae.decode(z).float(), x) + kl_weight * kl


def autoencoder_config(a: dict, subset, variational: bool = False) -> dict:
    """The autoencoder's constructor arguments from the config's `ae` section and the subset
    (a ParameterSubset); stored with its weights. `variational`: the paper kind's VAE."""
    if a["kind"] == "paper":
        return {
            "kind": "paper",
            "dim": subset.dim,
            "channels": list(a["channels"]),
            "latent_dim": a["latent_length"],
            "variational": variational,
        }
    if a["kind"] == "chunked":
        return {
            "kind": "chunked",
            "sizes": subset.numels,
            "chunk": a["chunk_size"],
            "channels": list(a["channels"]),
            "latent_channels": a["latent_channels"],
        }
    return {
        "kind": "flat",
        "dim": subset.dim,
        "channels": list(a["channels"]),
        "latent_channels": a["latent_channels"],
        "latent_length": a["latent_length"],
    }


class AutoencoderCheckError(RuntimeError):
    """The autoencoder cannot even overfit one checkpoint."""


def overfit_check(
    conf: dict,
    row: torch.Tensor,
    val_accuracy,
    *,
    steps: int,
    lr: float,
    tolerance: float,
    seed: int,
    device: torch.device,
) -> dict:
    """Train a fresh autoencoder of the configured kind on one normalized source row alone,
    without noise, and compare the rebuilt row's accuracy with the source's.

    An AE that cannot do this will not produce working parameters from many rows either
    (the collapse users of the official code report); `val_accuracy(row)` scores a
    normalized row.
    """
    with torch.random.fork_rng():  # a seeded start that leaves the caller's generator alone
        torch.manual_seed(seed)
        ae = build_autoencoder(conf)
    train_autoencoder(
        ae,
        row,
        steps=steps,
        batch_size=1,
        lr=lr,
        weight_decay=0.0,
        input_noise=0.0,
        latent_noise=0.0,
        seed=seed,
        device=device,
        log=lambda _: None,
        log_every=steps,
    )
    with torch.no_grad():
        rebuilt = ae(row.to(device)).cpu()
    source_acc, rebuilt_acc = val_accuracy(row), val_accuracy(rebuilt)
    return {
        "steps": steps,
        "source_val_acc": source_acc,
        "rebuilt_val_acc": rebuilt_acc,
        "max_abs_error_normalized": (rebuilt - row).abs().max().item(),
        "passed": bool(rebuilt_acc >= source_acc - tolerance),
    }


def noise_sigmas(a: dict, noise: str) -> tuple[float, float]:
    """(sigma_v, sigma_z) of a noise wildcard: none | input | latent | both, with an optional
    -xF that scales both (both-x10: the official ablation's ten times larger noises)."""
    kind, _, factor = noise.partition("-x")
    scale = float(factor) if factor else 1.0
    sigma_v = a["input_noise"] * scale if kind in ("input", "both") else 0.0
    sigma_z = a["latent_noise"] * scale if kind in ("latent", "both") else 0.0
    return sigma_v, sigma_z


def fit_autoencoder(
    matrix,
    a: dict,
    noise: str,
    val_accuracy,
    *,
    rebuilt: torch.Tensor,
    kl_weight: float = 0.0,
    seed: int,
    device: torch.device,
    log=print,
    resume: runtime.Resume | None = None,
) -> tuple[NoisyAutoencoder, dict]:
    """The parameter autoencoder of ae settings `a` trained on a ParameterMatrix with the
    noises of `noise`, after the overfit check (a.overfit_check: error | warn | off); with a
    `kl_weight`, the same autoencoder as a VAE (controls.vae_kl_weight), for the vae_prior
    control. `val_accuracy` scores parameter rows (pdiff.evaluation.Scorer); the sources of
    index `rebuilt` are passed through the AE every a.eval_every steps and scored.
    `resume`: see train_autoencoder; a stopped run's overfit check is not run again.
    Returns the AE and its metrics."""
    variational = kl_weight > 0
    sigma_v, sigma_z = noise_sigmas(a, noise)
    rows = matrix.normalized
    sources = matrix.denormalize(rows[rebuilt])  # as the rebuilt rows are, through normalization
    source_acc = val_accuracy(sources).mean().item()
    log(f"sources: mean val acc {source_acc:.3f} ({len(rebuilt)} evenly spaced)")

    def rebuilt_accuracy(ae):
        with torch.no_grad():
            back = matrix.denormalize(ae(rows[rebuilt].to(device)).cpu())
        return {
            "rebuilt_val_acc_mean": val_accuracy(back).mean().item(),
            "source_val_acc_mean": source_acc,
            "rebuilt_max_abs_error": (back - sources).abs().max().item(),
        }

    conf = autoencoder_config(a, matrix.subset, variational)
    check = resume.extra.get("overfit_check") if resume is not None else None
    if check is not None:
        log("overfit check: taken from the stopped run")
    elif a["overfit_check"] == "off" or variational:
        check = {}
    else:
        check = overfit_check(
            conf,
            rows[:1],
            lambda row: val_accuracy(matrix.denormalize(row)).item(),
            steps=a["overfit_check_steps"],
            lr=a["lr"],
            tolerance=a["overfit_tolerance"],
            seed=seed,
            device=device,
        )
        log(
            f"overfit check: one source rebuilt after {check['steps']} steps: val acc "
            f"{check['rebuilt_val_acc']:.2f} vs {check['source_val_acc']:.2f}"
        )
        if not check["passed"]:
            if a["overfit_check"] == "error":
                raise AutoencoderCheckError(overfit_message(check, a))
            log("WARNING: " + overfit_message(check, a))
    if resume is not None:
        resume.extra["overfit_check"] = check
    ae = build_autoencoder(conf)
    log(
        f"noise '{noise}': sigma_v={sigma_v} sigma_z={sigma_z}"
        f"{' x batch latent std' if a['relative_latent_noise'] else ''}; "
        f"D={matrix.subset.dim}, {a['kind']} AE with "
        f"{sum(p.numel() for p in ae.parameters())} parameters, latent {tuple(ae.latent_shape)}"
    )
    history = train_autoencoder(
        ae,
        rows,
        steps=a["steps"],
        batch_size=a["batch_size"],
        lr=a["lr"],
        weight_decay=a["weight_decay"],
        input_noise=sigma_v,
        latent_noise=sigma_z,
        seed=seed,
        device=device,
        lr_schedule=a["lr_schedule"],
        relative_latent_noise=a["relative_latent_noise"],
        kl_weight=kl_weight,
        precision=a["precision"],
        log=log,
        log_every=a["log_every"],
        eval_every=a["eval_every"],
        on_eval=rebuilt_accuracy,
        resume=resume,
    )
    metrics = {
        "noise": noise,
        "input_noise": sigma_v,
        "latent_noise": sigma_z,
        "overfit_check": check,
        "history": history,
    }
    return ae, metrics


def overfit_message(check: dict, a: dict) -> str:
    return (
        f"the autoencoder cannot overfit a single checkpoint: trained on source 0 "
        f"alone for {check['steps']} steps, its rebuilt copy scores "
        f"{check['rebuilt_val_acc']:.2f}% validation accuracy against the source's "
        f"{check['source_val_acc']:.2f}% (tolerance {a['overfit_tolerance']} points). "
        f"Generated models can be no better than what the AE rebuilds. Fix: raise "
        f"ae.overfit_check_steps or ae.lr, widen ae.channels or the latent, or use "
        f"ae.kind: chunked for a large subset (ae.overfit_check: warn only warns)."
    )
