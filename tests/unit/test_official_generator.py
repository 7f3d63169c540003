"""The official p-diff generator (autoencoder and denoiser), the controls without diffusion
and the verdict against them."""

import numpy as np
import pandas as pd
import pytest
import torch

from pdiff.autoencoder import (
    LR_SCHEDULES,
    PaperAutoencoder,
    build_autoencoder,
    noise_sigmas,
    train_autoencoder,
)
from pdiff.config import ConfigError, ae_settings, ldm_settings, split_denoiser, validate_config
from pdiff.controls import control_sets, gaussian_coordinate, gaussian_full
from pdiff.denoiser import PaperDenoiser, build_denoiser, denoiser_config
from pdiff.reporting import control_comparison, diffusion_verdict, main_table


def test_paper_autoencoder_pads_to_64_and_has_a_one_channel_latent():
    torch.manual_seed(0)
    ae = PaperAutoencoder(100, channels=(8, 16, 16, 16, 4), latent_dim=32).eval()
    assert ae.padded == 128 and ae.reduced == 4  # 128 / 2^5
    x = torch.randn(3, 100)
    z = ae.encode(x)
    assert z.shape == (3, 1, 32) and ae(x).shape == (3, 100)
    # the official block structure: 5 stride-2 convs in, 4 transposed blocks + a last one out
    convs = [m for m in ae.encoder.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.kernel_size[0], c.stride[0]) for c in convs] == [(7, 2)] * 5
    ups = [m for m in ae.decoder.modules() if isinstance(m, torch.nn.ConvTranspose1d)]
    assert len(ups) == 5 and all(u.output_padding == (1,) for u in ups)


@pytest.mark.parametrize(
    "conf",
    [
        {"kind": "paper", "dim": 70, "channels": [8, 16], "latent_dim": 16},
        {"kind": "flat", "dim": 70, "channels": [8, 16], "latent_channels": 2, "latent_length": 8},
        {
            "kind": "chunked",
            "sizes": [40, 30],
            "chunk": 16,
            "channels": [16, 16],
            "latent_channels": 4,
        },
    ],
)
def test_every_decoder_uses_its_latent(conf):
    """Different latents give different rows: a decoder that ignored its latent would
    make every generated and control set the same."""
    torch.manual_seed(0)
    ae = build_autoencoder(conf).eval()
    z = ae.encode(torch.randn(4, 70))
    rows = ae.decode(z)
    assert torch.pdist(rows).min() > 1e-4


def test_paper_denoiser_has_the_official_shape_and_a_time_offset_per_position():
    torch.manual_seed(0)
    d = PaperDenoiser(128).eval()
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 256, 128, 64, 1]
    assert {c.kernel_size[0] for c in convs} == {7}
    assert d.skips == 3
    # about 2.5M parameters, as the official OneDimCNN
    assert 2.4e6 < sum(p.numel() for p in d.parameters()) < 2.5e6
    # the time embedding is one value per latent position, not one per channel
    assert d.time_embed.linear_2.out_features == 128
    x = torch.randn(2, 1, 128)
    a, b = d(x, torch.tensor([10, 10])), d(x, torch.tensor([900, 900]))
    assert a.shape == x.shape and not torch.allclose(a, b)


def test_paper_denoiser_reads_a_multi_channel_latent_as_one_sequence():
    conf = denoiser_config({"kind": "paper", "layer_channels": [1, 8, 16, 8, 1]}, (2, 8))
    assert conf["latent_length"] == 16
    d = build_denoiser(conf).eval()
    x = torch.randn(3, 2, 8)
    assert d(x, torch.tensor(5)).shape == x.shape


def test_cosine_schedule_decays_to_zero_and_the_vae_trains_with_a_kl_term():
    cosine = LR_SCHEDULES["cosine"](10)
    assert cosine(0) == 1 and cosine(10) == pytest.approx(0) and cosine(5) == pytest.approx(0.5)
    torch.manual_seed(0)
    vae = PaperAutoencoder(40, channels=(8, 16), latent_dim=8, variational=True)
    rows = torch.randn(6, 40)
    history = train_autoencoder(
        vae, rows, steps=20, batch_size=6, lr=1e-3, weight_decay=0.0, input_noise=0.001,
        latent_noise=0.1, seed=0, device=torch.device("cpu"), lr_schedule="cosine",
        kl_weight=1.0, log=lambda _: None, log_every=10,
    )  # fmt: skip
    mu, logvar = vae.encode_distribution(rows)
    assert mu.shape == logvar.shape == (6, 1, 8) and np.isfinite(history[-1]["loss"])


def test_gaussian_controls_use_the_sources_latent_statistics():
    g = torch.Generator().manual_seed(0)
    latents = torch.randn(50, 1, 3) @ torch.tensor([[2.0, 1.0, 0.0], [0, 1, 0], [0, 0, 0.1]])
    latents = latents + torch.tensor([5.0, -1.0, 0.5])
    flat = latents.flatten(1)
    full = gaussian_full(latents, 20000, g).flatten(1)
    assert torch.allclose(full.mean(0), flat.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(full.T), torch.cov(flat.T), atol=0.1)
    coord = gaussian_coordinate(latents, 20000, g).flatten(1)
    assert torch.allclose(coord.std(0), flat.std(0), atol=0.05)
    # per coordinate: no correlation between values, which the sources have
    assert abs(torch.corrcoef(coord.T)[0, 1]) < 0.05 < abs(torch.corrcoef(flat.T)[0, 1])


def test_controls_are_decoded_by_the_autoencoder_given():
    torch.manual_seed(0)
    ae = build_autoencoder({"kind": "paper", "dim": 30, "channels": [8, 16], "latent_dim": 8})
    rows = torch.randn(10, 30)
    out = control_sets(ae, rows, ["gaussian_coordinate", "gaussian_full"], 5, seed=1)
    for params, z in out.values():
        assert torch.equal(params, ae.decode(z))
    again = control_sets(ae, rows, ["gaussian_full"], 5, seed=1)
    assert torch.equal(again["gaussian_full"][0], out["gaussian_full"][0])
    with pytest.raises(ValueError, match="VAE"):
        control_sets(ae, rows, ["vae_prior"], 5, seed=1)


def _evals(generated, control, source=90.0):
    rows = [("source", source)] * 10 + [("generated", a) for a in generated]
    rows += [("gaussian_full", a) for a in control]
    return pd.DataFrame(
        {
            "group": [g for g, _ in rows],
            "index": range(len(rows)),
            "finite": True,
            "val_acc": [a for _, a in rows],
            "test_acc": [a for _, a in rows],
        }
    )


def test_the_verdict_says_whether_diffusion_beats_its_controls():
    rng = np.random.default_rng(0)
    same = rng.normal(90, 0.2, 100)
    assert "ADDS NOTHING" in diffusion_verdict({0: _evals(same, rng.permutation(same))})[0]
    better = diffusion_verdict({0: _evals(same + 1, same)})[0]
    assert "BEATS THE CONTROLS" in better and "+1.00 points" in better
    assert "LOSES TO A CONTROL" in diffusion_verdict({0: _evals(same - 1, same)})[0]
    comparison = control_comparison(_evals(same + 1, same))
    assert comparison["mean"]["low"] > 0.8 and comparison["mean"]["control"] == "gaussian_full"
    table = main_table({0: _evals(same + 1, same)}).set_index("row")["seed 0"]
    assert table["minus_best_control_mean"] == pytest.approx(1.0)
    assert table["gaussian_full_mean"] == pytest.approx(same.mean())


def test_timesteps_and_own_autoencoders_in_the_config():
    denoisers = {"conv": {}, "transformer": {}, "off": {"kind": "paper", "ae": {"kind": "paper"}}}
    config = validate_config({"denoisers": denoisers})
    assert split_denoiser("off-T10") == ("off", 10) and split_denoiser("conv") == ("conv", None)
    assert ldm_settings(config, "off-T10")["timesteps"] == 10
    assert "ae" not in ldm_settings(config, "off")
    assert ae_settings(config, "off-T10")["kind"] == "paper"
    assert ae_settings(config, "conv")["kind"] == "flat"
    with pytest.raises(ConfigError, match="denoisers.off.ae.kind"):
        validate_config({"denoisers": {**denoisers, "off": {"ae": {"kind": "nope"}}}})
    assert noise_sigmas({"input_noise": 0.001, "latent_noise": 0.1}, "both-x10") == (
        pytest.approx(0.01),
        pytest.approx(1.0),
    )
    assert noise_sigmas({"input_noise": 0.001, "latent_noise": 0.1}, "latent") == (0.0, 0.1)


def test_ablation_rows_carry_the_average_and_each_control():
    from pdiff.reporting import ablation_table

    rng = np.random.default_rng(0)
    same = rng.normal(90, 0.2, 50)
    evals = _evals(same + 1, same)
    evals = pd.concat([evals, evals[evals.group == "source"].head(1).assign(group="average")])
    table = ablation_table("denoiser", [("conv", evals)], [evals]).set_index("denoiser")
    assert table.loc["conv", "gaussian_full"] == pytest.approx(same.mean())
    assert np.isnan(table.loc["conv", "vae_prior"])  # a control the variant has not
    assert table.loc["conv", "average"] == pytest.approx(90.0)
    assert table.loc["conv", "control_p5"] == pytest.approx(np.quantile(same, 0.05))
