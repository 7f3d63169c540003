"""Each artifact owns its format: what `save` writes, `load` reads back the same, and a saved
generator needs nothing but its folder."""

import torch

from pdiff.autoencoder import NoisyAutoencoder, autoencoder_config, build_autoencoder
from pdiff.denoiser import build_denoiser, denoiser_config
from pdiff.generator import ParameterGenerator, TrainedLDM, build_from_spec
from pdiff.matrix import ParameterMatrix
from pdiff.subset import ParameterSubset, normalization_stats

AE = {"kind": "flat", "channels": [4, 8], "latent_channels": 2, "latent_length": 4}
LDM = {"kind": "conv", "channels": 8, "blocks": 1, "time_dim": 8}
SCHEDULE = {"timesteps": 10, "beta_start": 1e-4, "beta_end": 0.02, "beta_schedule": "linear",
            "prediction": "epsilon", "clip_sample": None}  # fmt: skip
SPEC = {"name": "small_cnn", "kwargs": {"channels": [4, 8, 8], "hidden": 16}, "in_channels": 1,
        "num_classes": 10, "image_size": 28, "input_size": None}  # fmt: skip


def _parts():
    torch.manual_seed(0)
    net = build_from_spec(SPEC)
    subset = ParameterSubset.from_model(net, ["bn3.*", "bn4.*"])
    rows = torch.randn(6, subset.dim)
    mean, std = normalization_stats(rows, subset)
    matrix = ParameterMatrix(rows, mean, std, subset, "last_two_bn", [f"c{i}" for i in range(6)])
    ae = build_autoencoder(autoencoder_config(AE, subset)).eval()
    conf = denoiser_config(LDM, tuple(ae.latent_shape))
    latent = tuple(ae.latent_shape)
    ldm = TrainedLDM(build_denoiser(conf).eval(), latent, torch.zeros(latent), torch.ones(latent),
                     SCHEDULE, conf)  # fmt: skip
    return net, matrix, ae, ldm


def test_matrix_round_trips_with_its_runs(tmp_path):
    _, matrix, _, _ = _parts()
    matrix.save(tmp_path / "m.safetensors", tmp_path / "layout.json")
    back = ParameterMatrix.load(tmp_path / "m.safetensors")  # the layout beside it
    assert torch.equal(back.rows, matrix.rows) and torch.equal(back.std, matrix.std)
    assert back.subset.names == matrix.subset.names and back.runs is None
    torch.testing.assert_close(back.denormalize(back.normalized), matrix.rows)
    matrix.runs, matrix.align = [0, 0, 0, 1, 1, 1], "weights"
    matrix.save(tmp_path / "m.safetensors", tmp_path / "layout.json")
    back = ParameterMatrix.load(tmp_path / "m.safetensors", tmp_path / "layout.json")
    assert back.runs == [0, 0, 0, 1, 1, 1] and back.align == "weights"


def test_autoencoder_and_ldm_round_trip(tmp_path):
    _, matrix, ae, ldm = _parts()
    ae.save(tmp_path / "ae.safetensors")
    back = NoisyAutoencoder.load(tmp_path / "ae.safetensors")
    assert back.config == ae.config
    with torch.no_grad():
        torch.testing.assert_close(back(matrix.normalized), ae(matrix.normalized))
    ldm.save(tmp_path / "ldm.safetensors")
    again = TrainedLDM.load(tmp_path / "ldm.safetensors")
    assert again.config == ldm.config and again.schedule == ldm.schedule
    assert again.latent_shape == ldm.latent_shape
    x, t = torch.randn(3, *ldm.latent_shape), torch.tensor([1, 5, 9])
    with torch.no_grad():
        torch.testing.assert_close(again.denoiser(x, t), ldm.denoiser(x, t))


def test_a_saved_generator_samples_from_its_folder_alone(tmp_path):
    net, matrix, ae, ldm = _parts()
    base = {k: v.clone() for k, v in net.state_dict().items()}
    gen = ParameterGenerator(ae, ldm, matrix.mean, matrix.std, matrix.subset, base, SPEC,
                             "ddim-5")  # fmt: skip
    gen.save(tmp_path / "gen")
    loaded = ParameterGenerator.load(tmp_path / "gen")
    assert loaded.sampler == "ddim-5" and loaded.network == SPEC
    rows = loaded.sample(3, seed=2)
    assert torch.equal(rows, gen.sample(3, seed=2))
    assert not torch.equal(rows, loaded.sample(3, seed=3))
    model = loaded.modules(rows[:1])[0]
    assert torch.equal(model.bn3.weight, matrix.subset.unflatten(rows[0])["bn3.weight"])
    assert torch.equal(model.conv1.weight, base["conv1.weight"])  # the base's, outside


def test_loading_a_folder_that_is_not_a_generator_names_what_is_missing(tmp_path):
    import pytest

    from pdiff.io import ArtifactError

    with pytest.raises(ArtifactError, match="missing generator.json.*snakemake export"):
        ParameterGenerator.load(tmp_path)
