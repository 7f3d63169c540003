import torch

from pdiff.autoencoder import (
    ChunkedParameterAutoencoder,
    ParameterAutoencoder,
    build_autoencoder,
    train_autoencoder,
)
from pdiff.denoiser import LatentDenoiser
from pdiff.diffusion import make_scheduler, sample, train_denoiser
from pdiff.pipeline import overfit_check

CPU = torch.device("cpu")


def test_autoencoder_shapes_for_odd_dimensions():
    for dim in (1, 7, 256, 1001):
        ae = ParameterAutoencoder(dim, channels=(8, 16), latent_channels=2, latent_length=5)
        x = torch.randn(3, dim)
        z = ae.encode(x)
        assert z.shape == (3, 2, 5)
        assert ae.decode(z).shape == (3, dim)
        assert ae(x, 0.1, 0.1).shape == (3, dim)


def test_autoencoder_noise_is_seeded():
    ae = ParameterAutoencoder(32, channels=(8,), latent_channels=2, latent_length=4).train()
    x = torch.randn(4, 32)
    a = ae(x, 0.5, 0.5, torch.Generator().manual_seed(0))
    b = ae(x, 0.5, 0.5, torch.Generator().manual_seed(0))
    c = ae(x, 0.5, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def _loss_ratio_after_training(ae, rows, lr):
    """Reconstruction MSE after 300 noise-free steps, over the MSE before."""
    before = torch.nn.functional.mse_loss(ae(rows), rows).item()
    train_autoencoder(ae, rows, steps=300, batch_size=8, lr=lr, weight_decay=0.0,
                      input_noise=0.0, latent_noise=0.0, seed=0, device=CPU, log=lambda s: None)
    return torch.nn.functional.mse_loss(ae(rows), rows).item() / before


def test_autoencoder_learns_to_reconstruct():
    torch.manual_seed(0)
    rows = torch.randn(8, 64)
    ae = ParameterAutoencoder(64, channels=(16, 32), latent_channels=4, latent_length=8)
    assert _loss_ratio_after_training(ae, rows, lr=1e-3) < 0.2


def test_chunked_autoencoder_cuts_each_tensor_into_its_own_chunks():
    sizes = [5, 1, 12]  # chunk 4: 2 + 1 + 3 chunks, none straddling two tensors
    ae = ChunkedParameterAutoencoder(sizes, chunk=4, channels=(8, 8), latent_channels=3)
    assert ae.num_chunks == 6
    x = torch.arange(1.0, 19.0).unsqueeze(0)
    tokens = torch.nn.functional.pad(x, (0, 1))[:, ae.slots].view(6, 4)
    assert tokens[1].tolist() == [5.0, 0.0, 0.0, 0.0]  # tensor 0's padded tail
    assert tokens[2].tolist() == [6.0, 0.0, 0.0, 0.0]  # tensor 1 alone
    assert tokens[3].tolist() == [7.0, 8.0, 9.0, 10.0]
    assert torch.equal(tokens.flatten()[ae.columns], x[0])  # decoding reads the same slots
    z = ae.encode(torch.randn(2, 18))
    assert z.shape == (2, 3, 6) and ae.decode(z).shape == (2, 18)


def test_chunked_autoencoder_size_grows_linearly_not_quadratically():
    def count(dim):
        ae = build_autoencoder({"kind": "chunked", "sizes": [dim], "chunk": 64,
                                "channels": [64, 64], "latent_channels": 4})
        return sum(p.numel() for p in ae.parameters())
    flat = sum(p.numel() for p in ParameterAutoencoder(64_000, channels=(16, 32, 64)).parameters())
    assert count(64_000) < flat / 20
    # Only the per-coordinate offset (1 per value) and the two position embeddings
    # (64 per chunk of 64 values each) grow with D: 3 parameters per value.
    assert count(128_000) - count(64_000) == 3 * 64_000


def test_chunked_autoencoder_learns_to_reconstruct():
    torch.manual_seed(0)
    rows = torch.randn(1, 40) + 0.1 * torch.randn(8, 40)
    ae = build_autoencoder({"kind": "chunked", "sizes": [30, 10], "chunk": 8,
                            "channels": [16, 16], "latent_channels": 2})
    assert _loss_ratio_after_training(ae, rows, lr=1e-2) < 0.05


def test_overfit_check_fails_an_autoencoder_that_cannot_fit_one_row():
    row = torch.randn(1, 64, generator=torch.Generator().manual_seed(0)) * 3
    # A stand-in accuracy: 100 minus 100 x the largest error against the row itself.
    def score(r):
        return 100 - 100 * (r - row).abs().max().item()
    conf = {"kind": "flat", "dim": 64, "channels": [8], "latent_channels": 2, "latent_length": 4}
    bad = overfit_check(conf, row, score, steps=1, lr=1e-3, tolerance=1.0, seed=0, device=CPU)
    assert not bad["passed"] and bad["source_val_acc"] == 100
    good = overfit_check(conf, row, score, steps=600, lr=1e-2, tolerance=5.0, seed=0,
                         device=CPU)
    assert good["passed"], good


def test_denoiser_keeps_latent_shape():
    net = LatentDenoiser(4, channels=16, blocks=2, time_dim=32)
    x = torch.randn(5, 4, 16)
    assert net(x, torch.randint(1000, (5,))).shape == x.shape
    assert net(x, torch.tensor(3)).shape == x.shape


def test_scheduler_is_the_papers_linear_schedule():
    s = make_scheduler("ddpm")
    assert s.config.num_train_timesteps == 1000
    assert abs(s.betas[0].item() - 1e-4) < 1e-9 and abs(s.betas[-1].item() - 2e-2) < 1e-9
    assert s.config.prediction_type == "epsilon"


def test_sampling_is_seeded_and_shaped():
    net = LatentDenoiser(2, channels=8, blocks=1, time_dim=16)
    a = sample(net, make_scheduler("ddpm"), 3, (2, 4), 10, seed=0, device=CPU)
    b = sample(net, make_scheduler("ddpm"), 3, (2, 4), 10, seed=0, device=CPU)
    assert a.shape == (3, 2, 4) and torch.equal(a, b)
    assert sample(net, make_scheduler("ddim"), 3, (2, 4), 5, seed=0, device=CPU).shape == a.shape


def test_denoiser_training_lowers_the_loss():
    torch.manual_seed(0)
    latents = torch.randn(16, 2, 8)
    net = LatentDenoiser(2, channels=32, blocks=2, time_dim=32)
    hist = train_denoiser(net, latents, make_scheduler("ddpm"), steps=200, batch_size=16,
                          lr=1e-3, weight_decay=0.0, seed=0, device=CPU, log=lambda s: None,
                          log_every=20)
    assert hist[-1]["loss"] < hist[0]["loss"]
