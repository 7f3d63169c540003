from pathlib import Path

import pytest

from pdiff.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "config.yaml"


def test_default_config_is_valid_and_defaults_are_filled():
    cfg = load_config(DEFAULT)
    assert cfg["collect"]["k"] == 200
    assert cfg["ldm"]["timesteps"] == 1000 and cfg["ldm"]["beta_schedule"] == "linear"
    assert cfg["ae"]["input_noise"] == 0.001 and cfg["ae"]["latent_noise"] == 0.1
    assert cfg["generate"]["n"] == 100


def test_every_config_file_in_the_repo_is_valid():
    for path in [DEFAULT, *REPO.glob("tests/configs/*.yaml")]:
        load_config(path)


@pytest.mark.parametrize("override, words", [
    ({"colect": {"k": 5}}, ["colect"]),
    ({"collect": {"kk": 5}}, ["kk"]),
    ({"collect": {"k": 0}}, ["k", "minimum"]),
    ({"collect": {"k": "ten"}}, ["k", "integer"]),
    ({"generate": {"n": 0}}, ["n", "minimum"]),
    ({"ae": {"latent_noise": -0.1}}, ["latent_noise", "minimum"]),
    ({"data": {"name": "cifar7"}}, ["name", "fashion_mnist"]),
    ({"network": {"name": "resnet9000"}}, ["name", "small_cnn"]),
    ({"location": "nowhere"}, ["nowhere", "last_two_bn"]),
    ({"seeds": []}, ["seeds"]),
    ({"precision": "fp16"}, ["precision", "bf16"]),
])
def test_bad_values_name_the_key_and_what_is_allowed(override, words):
    with pytest.raises(ConfigError) as e:
        load_config(DEFAULT, override)
    for w in words:
        assert w in str(e.value)
