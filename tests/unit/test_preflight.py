"""Configs that pass the schema but cannot run stop before any stage: pdiff.preflight."""

import pytest

from pdiff.config import ConfigError, load_config
from pdiff.preflight import check_runnable


def _config(**overrides):
    return load_config("config.yaml", {"experiment": "x", **overrides})


def test_the_default_and_the_experiments_configs_can_run(tmp_path):
    check_runnable(_config(), checked=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1  # remembered
    check_runnable(_config(location="head", ae={"kind": "chunked"}))


def test_a_pattern_that_matches_nothing_names_the_location_and_the_tensors():
    cfg = _config(locations={"typo": ["bn9.*"]}, ablations={"location": ["typo"]})
    with pytest.raises(ConfigError) as e:
        check_runnable(cfg)
    assert "locations.typo" in str(e.value) and "bn3.weight" in str(e.value)


def test_a_flat_autoencoder_too_large_for_its_subset_names_the_fix():
    cfg = _config(location="conv", ae={"latent_channels": 4000, "latent_length": 4000})
    with pytest.raises(ConfigError) as e:
        check_runnable(cfg)
    assert "ae.kind: chunked" in str(e.value) and "D = 4,608" in str(e.value)


def test_a_passed_check_is_remembered_and_a_changed_config_is_checked_again(tmp_path):
    check_runnable(_config(), checked=tmp_path)
    with pytest.raises(ConfigError):
        check_runnable(_config(locations={"last_two_bn": ["nothing.*"]}), checked=tmp_path)


def test_denoiser_settings_are_validated_as_ldm_settings():
    with pytest.raises(ConfigError) as e:
        _config(denoisers={"conv": {"ema_decay": 2}})
    assert "denoisers.conv.ema_decay" in str(e.value)
    with pytest.raises(ConfigError) as e:
        _config(denoiser="nope")
    assert "denoiser 'nope'" in str(e.value) and "paper" in str(e.value)
    assert _config(denoisers={"slow": {"lr": "1e-4"}})["denoisers"]["slow"]["lr"] == 1e-4
