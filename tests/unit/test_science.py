"""The science at toy size, each check able to fail on its own: sampling and its seed, the
scale a drawn latent is brought back to, the baselines' statistics and the novelty measure.
scripts/mutants.py injects the bugs these catch."""

import pytest
import torch

import pdiff.diffusion
from pdiff.autoencoder import ParameterAutoencoder
from pdiff.controls import gaussian_coordinate, gaussian_full
from pdiff.denoiser import build_denoiser
from pdiff.diffusion import make_scheduler, sample
from pdiff.generator import TrainedLDM, draw
from pdiff.memorization import coordinate_gaussian, novelty, source_averages

CPU = torch.device("cpu")
SCHEDULE = {
    "timesteps": 1000,
    "beta_start": 1e-4,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "prediction": "epsilon",
    "clip_sample": None,
}


def test_draw_decodes_the_sampled_latents_at_their_scale_with_the_sources_statistics(
    monkeypatch,
):
    """draw(): the DDPM's latents times the latents' own per-coordinate std plus their mean,
    decoded by the AE, then de-normalized with the sources' mean and std (never the drawn
    rows' own statistics or one global scale)."""
    torch.manual_seed(0)
    ae = ParameterAutoencoder(12, channels=(8,), latent_channels=2, latent_length=4).eval()
    unit = torch.randn(5, 2, 4)
    monkeypatch.setattr(pdiff.diffusion, "sample", lambda *a, **k: unit.clone())
    latent_mean, latent_std = torch.randn(2, 4), torch.rand(2, 4) * 3 + 0.1
    ldm = TrainedLDM(torch.nn.Identity(), (2, 4), latent_mean, latent_std, SCHEDULE)
    mean, std = torch.randn(12), torch.rand(12) + 0.5
    rows, latents = draw(ae, ldm, mean, std, n=5, seed=0, sampler="ddpm-10", device=CPU)
    expected_latents = unit * latent_std + latent_mean
    torch.testing.assert_close(latents, expected_latents)
    with torch.no_grad():
        torch.testing.assert_close(rows, ae.decode(expected_latents) * std + mean)


class Oracle(torch.nn.Module):
    """The noise a DDPM should predict when all its data is one point x0: from x_t and the
    alpha-bar of the step it is told, exactly the noise that was added."""

    def __init__(self, x0, alphas_cumprod):
        super().__init__()
        self.x0, self.abar = x0, alphas_cumprod

    def forward(self, x, t):
        abar = self.abar[t.long()].reshape(-1, *[1] * (x.dim() - 1))
        return (x - abar.sqrt() * self.x0) / (1 - abar).sqrt()


class ZeroNoise(torch.nn.Module):
    def forward(self, x, t):
        return torch.zeros_like(x)


class Spy(Oracle):
    """The oracle, recording the steps it is asked about."""

    def forward(self, x, t):
        self.asked = [*getattr(self, "asked", []), int(t)]
        return super().forward(x, t)


@pytest.mark.parametrize("sampler", ["ddpm-100", "ddim-20"])
def test_with_the_perfect_denoiser_the_sampler_ends_at_the_data(sampler):
    """The sampler calls the denoiser with the step whose alpha it then uses, and uses its
    prediction: with the perfect denoiser of a one-point data set every sample lands on that
    point; a denoiser that predicts zero noise does not."""
    kind, steps = sampler.split("-")
    x0 = torch.randn(2, 8, generator=torch.Generator().manual_seed(3))
    oracle = Spy(x0, make_scheduler(kind).alphas_cumprod)
    scheduler = make_scheduler(kind)
    x = sample(oracle, scheduler, 6, (2, 8), int(steps), seed=0, device=CPU)
    torch.testing.assert_close(x, x0.expand_as(x), atol=1e-3, rtol=0)
    # asked about each step the scheduler then takes, in order (the last step alone would
    # land an oracle on x0, so this is what shows a sampler that asks about the wrong step)
    assert oracle.asked == scheduler.timesteps.tolist()
    zero = sample(ZeroNoise(), make_scheduler(kind), 6, (2, 8), int(steps), seed=0, device=CPU)
    assert (zero - x0).abs().mean() > 0.5


def test_samples_depend_on_their_seed_and_only_on_it():
    torch.manual_seed(0)
    net = build_denoiser({"kind": "conv", "latent_channels": 2, "channels": 8, "blocks": 1,
                          "time_dim": 16})  # fmt: skip
    a, b, c = (
        sample(net, make_scheduler("ddpm"), 4, (2, 16), 10, seed=s, device=CPU) for s in (0, 0, 1)
    )
    assert torch.equal(a, b) and not torch.allclose(a, c)
    d, e = (sample(net, make_scheduler("ddim"), 4, (2, 16), 10, seed=s, device=CPU) for s in (0, 1))
    assert not torch.allclose(d, e)  # DDIM: the seed is in its starting noise


def test_average_of_n_averages_n_distinct_sources():
    sources = torch.eye(6)  # each source one coordinate: an average shows which it used
    averages = source_averages(sources, of=3, repeats=20, g=torch.Generator().manual_seed(0))
    assert torch.allclose(averages, (averages > 0).float() / 3)  # three, each once
    assert len({tuple(a.tolist()) for a in averages}) > 1  # not the same three every time
    everything = source_averages(sources, of=6, repeats=2, g=torch.Generator().manual_seed(0))
    torch.testing.assert_close(everything, sources.mean(0).expand(2, 6))


def test_gaussian_baselines_draw_with_the_sources_statistics():
    g = torch.Generator().manual_seed(0)
    sources = torch.tensor([5.0, -3.0, 0.0]) + torch.randn(400, 3, generator=g) * torch.tensor(
        [0.01, 2.0, 0.5]
    )
    draws = coordinate_gaussian(sources, 4000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(draws.mean(0), sources.mean(0), atol=0.1, rtol=0)
    torch.testing.assert_close(draws.std(0), sources.std(0), atol=0, rtol=0.1)
    latents = sources[:50].view(50, 1, 3)
    for control in (gaussian_coordinate, gaussian_full):
        z = control(latents, 2000, torch.Generator().manual_seed(2)).flatten(1)
        torch.testing.assert_close(z.mean(0), latents.flatten(1).mean(0), atol=0.2, rtol=0)
        torch.testing.assert_close(z.std(0), latents.flatten(1).std(0), atol=0, rtol=0.15)


def test_novelty_compares_each_set_with_the_sources_and_a_source_with_the_others():
    labels = torch.zeros(6, dtype=torch.long)
    wrong = torch.ones(6, dtype=torch.long)  # a prediction that is a mistake
    src_preds = torch.stack([labels.clone(), labels.clone()])
    src_preds[0, :2], src_preds[1, 2:4] = wrong[:2], wrong[2:4]  # disjoint mistakes
    gen_preds = torch.stack([src_preds[0], labels.clone()])
    gen_preds[1, 4:] = wrong[4:]  # a copy of source 0's mistakes; mistakes no source makes
    rows = {"source": torch.randn(2, 3), "generated": torch.randn(2, 3)}
    table = novelty(
        rows, {"source": src_preds, "generated": gen_preds}, labels, "source", lambda r: r
    ).set_index(["group", "index"])
    sim = table.max_similarity
    assert sim["generated", 0] == 1.0 and sim["generated", 1] == 0.0
    assert sim["source", 0] == 0.0 and sim["source", 1] == 0.0  # not with itself
    near = table.nearest_l2
    assert near["source", 0] == pytest.approx((rows["source"][0] - rows["source"][1]).norm())
