import torch

from pdiff.autoencoder import ParameterAutoencoder, train_autoencoder
from pdiff.denoiser import LatentDenoiser
from pdiff.diffusion import make_scheduler, sample, train_denoiser

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


def test_autoencoder_learns_to_reconstruct():
    torch.manual_seed(0)
    rows = torch.randn(8, 64)
    ae = ParameterAutoencoder(64, channels=(16, 32), latent_channels=4, latent_length=8)
    before = torch.nn.functional.mse_loss(ae(rows), rows).item()
    train_autoencoder(ae, rows, steps=300, batch_size=8, lr=1e-3, weight_decay=0.0,
                      input_noise=0.0, latent_noise=0.0, seed=0, device=CPU, log=lambda s: None)
    after = torch.nn.functional.mse_loss(ae(rows), rows).item()
    assert after < 0.2 * before


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
