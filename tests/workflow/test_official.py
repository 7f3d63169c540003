"""The official p-diff generator and every control without diffusion, end to end at tiny size
(the denoiser axis's `paper` variant of the tiny grid)."""

import pandas as pd
import torch
from safetensors.torch import load_file

from pdiff.autoencoder import NoisyAutoencoder
from pdiff.generator import TrainedLDM
from pdiff.io import load_module


def test_the_official_generator_trains_its_own_autoencoder_and_samples(tiny_grid):
    res, _ = tiny_grid
    variant = res / "seed0/last_two_bn/k16/noise-both"
    own = variant / "ldm-paper"
    assert load_module(own / "ae.safetensors")[1]["kind"] == "paper"
    assert load_module(variant / "ae.safetensors")[1]["kind"] == "flat"  # conv's, not reused
    ldm = TrainedLDM.load(own / "ldm.safetensors")
    assert type(ldm.denoiser).__name__ == "PaperDenoiser" and ldm.latent_shape == (1, 16)
    assert torch.equal(ldm.latent_std, torch.ones(1, 1))  # raw latents, as the official code
    generated = load_file(own / "ddpm-100/generated.safetensors")
    assert generated["params"].shape == (8, 64) and torch.isfinite(generated["params"]).all()
    assert torch.pdist(generated["params"]).min() > 0


def test_every_control_is_a_group_decoded_by_the_same_autoencoder(tiny_grid):
    res, stdout = tiny_grid
    variant = res / "seed0/last_two_bn/k16"
    samples = variant / "noise-both/ldm-paper/ddpm-100"
    evals = pd.read_csv(samples / "evaluation.csv")
    counts = evals.group.value_counts()
    assert all(counts[c] == 8 for c in ("gaussian_coordinate", "gaussian_full", "vae_prior"))
    t = load_file(variant / "param_matrix.safetensors")
    controls = load_file(samples / "controls.safetensors")
    ae = NoisyAutoencoder.load(variant / "noise-both/ldm-paper/ae.safetensors")
    vae = NoisyAutoencoder.load(variant / "noise-both/ldm-paper/vae.safetensors")
    assert vae.variational and not ae.variational
    for kind, decoder in (("gaussian_coordinate", ae), ("gaussian_full", ae), ("vae_prior", vae)):
        with torch.no_grad():
            rows = decoder.decode(controls[f"{kind}_latents"]) * t["std"] + t["mean"]
        assert torch.allclose(rows, controls[f"{kind}_params"], atol=1e-5), kind
        assert torch.pdist(rows).min() > 0, kind  # the latent reaches the rows
    row = pd.read_csv(res / "ablations/ablation_denoiser.csv").set_index("denoiser").loc["paper"]
    assert row[["gaussian_coordinate", "gaussian_full", "vae_prior"]].notna().all()
    table = pd.read_csv(res / "main_table.csv").set_index("row")  # the default (conv) variant
    assert "minus_best_control_mean" in table.index
    text = (res / "main_table.md").read_text()
    assert "DIFFUSION" in text and "bootstrap" in text and "DIFFUSION" in stdout
