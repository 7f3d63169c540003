import pytest
from helpers import REPO

from pdiff.config import (
    ConfigError,
    check_variant_is_named,
    differences,
    layered_config,
    load_config,
    merge,
    read_yaml,
    settings_digest,
    shared_folders,
)

DEFAULT = REPO / "config.yaml"


def test_default_config_is_valid_and_defaults_are_filled():
    cfg = load_config(DEFAULT)
    assert cfg["collect"]["k"] == 200
    assert cfg["ldm"]["timesteps"] == 1000 and cfg["ldm"]["beta_schedule"] == "linear"
    assert cfg["ae"]["input_noise"] == 0.001 and cfg["ae"]["latent_noise"] == 0.1
    assert cfg["generate"]["n"] == 100


def test_every_config_file_in_the_repo_is_valid():
    """Each file as `snakemake --configfile <file>` layers it on config.yaml; each of the
    paper's tasks and networks on experiments/paper.yaml with a network or task beside it."""
    files = [*REPO.glob("experiments/*.yaml"), *REPO.glob("tests/configs/*.yaml")]
    files.remove(REPO / "experiments/paper.yaml")  # shared settings, run with a cell
    tasks, nets = REPO.glob("experiments/tasks/*.yaml"), REPO.glob("experiments/nets/*.yaml")
    cells = [[task, REPO / "experiments/nets/resnet18.yaml"] for task in tasks]
    cells += [[REPO / "experiments/tasks/cifar10.yaml", net] for net in nets]
    assert len(files) >= 6 and len(cells) >= 10
    for path in files:
        layered_config(read_yaml(DEFAULT), [path])
    for cell in cells:
        layered_config(read_yaml(DEFAULT), [REPO / "experiments/paper.yaml", *cell])


def test_command_line_strings_are_read_as_the_schema_types():
    """Snakemake hands nested --config values over as strings, and YAML 1.1 reads 1e-4 as
    a string: both are read as the type the schema asks for before validation."""
    cfg = load_config(
        DEFAULT,
        {
            "generate": {"n": "20"},
            "ae": {"steps": "300", "lr": "1e-4"},
            "seeds": "[0, 1]",
            "data": {"download": "false"},
            "ldm": {"clip_sample": "1.0", "ema_decay": "0.999"},
        },
    )
    assert cfg["generate"]["n"] == 20 and cfg["ae"]["steps"] == 300
    assert cfg["ae"]["lr"] == 1e-4 and cfg["seeds"] == [0, 1]
    assert cfg["data"]["download"] is False and cfg["ldm"]["clip_sample"] == 1.0
    assert cfg["ldm"]["ema_decay"] == 0.999
    # strings stay strings where the schema asks for one
    assert load_config(DEFAULT, {"experiment": "123"})["experiment"] == "123"


@pytest.mark.parametrize(
    "override, words",
    [
        ({"colect": {"k": 5}}, ["colect"]),
        ({"collect": {"kk": 5}}, ["kk"]),
        ({"collect": {"k": 0}}, ["k", "minimum"]),
        ({"collect": {"k": "ten"}}, ["k", "'ten'", "integer"]),
        ({"collect": {"k": "2.5"}}, ["k", "'2.5'", "integer"]),
        ({"ae": {"lr": "fast"}}, ["ae.lr", "'fast'", "number"]),
        ({"generate": {"n": 0}}, ["n", "minimum"]),
        ({"ae": {"latent_noise": -0.1}}, ["latent_noise", "minimum"]),
        ({"data": {"name": "cifar7"}}, ["name", "fashion_mnist"]),
        ({"network": {"name": "resnet9000"}}, ["name", "small_cnn"]),
        ({"location": "nowhere"}, ["nowhere", "last_two_bn"]),
        ({"seeds": []}, ["seeds"]),
        ({"precision": "fp16"}, ["precision", "bf16"]),
        ({"generate": {"sampler": "ddpm-2000"}}, ["ddpm-2000", "ldm.timesteps = 1000"]),
        ({"ablations": {"sampler": ["ddim-0"]}}, ["ddim-0", "at most 1000"]),
        ({"ldm": {"channels": 30, "heads": 4}}, ["ldm.heads = 4", "ldm.channels = 30"]),
        ({"experiment": "shared"}, ["'shared'", "results/", "another name"]),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(override, words):
    with pytest.raises(ConfigError) as e:
        load_config(DEFAULT, override)
    for w in words:
        assert w in str(e.value)


def test_a_variant_of_the_default_without_a_name_is_refused():
    default = load_config(DEFAULT)
    for given in ({"location": "head"}, {"ae": {"steps": 300}}):
        config = load_config(DEFAULT, given)
        with pytest.raises(ConfigError) as e:
            check_variant_is_named(merge(read_yaml(DEFAULT), given), config, DEFAULT)
        assert "results/fmnist_small_cnn/" in str(e.value)
        assert "experiment: fmnist_small_cnn_" in str(e.value)
    # named, or changing only what leaves results as they are: accepted
    named = {"location": "head", "experiment": "mine"}
    check_variant_is_named(named, load_config(DEFAULT, named), DEFAULT)
    neutral = {
        "seeds": [0, 1],
        "data": {"root": "/elsewhere", "download": False},
        "ablations": {"k": [1]},
        "device": "cpu",
    }
    check_variant_is_named(neutral, load_config(DEFAULT, neutral), DEFAULT)
    assert differences(load_config(DEFAULT, neutral), default) == {}
    assert differences(load_config(DEFAULT, {"ae": {"lr": "1e-4"}}), default) == {"ae.lr": 1e-4}


def test_other_denoisers_are_extra_variants_but_the_defaults_own_is_a_change():
    extra = {"denoisers": {"ema": {"ema_decay": 0.999}, "transformer": {"blocks": 4}}}
    check_variant_is_named(extra, load_config(DEFAULT, extra), DEFAULT)
    for changed in ({"denoisers": {"conv": {"ema_decay": 0.999}}}, {"denoiser": "paper"}):
        with pytest.raises(ConfigError, match="does not name its experiment"):
            check_variant_is_named(changed, load_config(DEFAULT, changed), DEFAULT)


def test_a_config_file_that_is_not_yaml_names_the_file_and_the_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiment: x\nae: {steps: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML \(line 3"):
        read_yaml(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="bad.yaml: a config file holds"):
        read_yaml(bad)


def test_shared_folders_change_with_the_settings_their_stage_depends_on_only():
    assert settings_digest({"a": 1, "b": {"c": 2, "d": 3}}) == settings_digest(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    default = shared_folders(load_config(DEFAULT))
    assert len(set(default.values())) == 3 and all(
        f.startswith("shared/") for f in default.values()
    )

    def changed(override):
        folders = shared_folders(load_config(DEFAULT, {"experiment": "x", **override}))
        return {stage for stage in default if folders[stage] != default[stage]}

    # later stages, the seeds, the location and the variant keys share all three
    for later in ({"ae": {"steps": 10, "noise": "none"}}, {"ldm": {"lr": 0.1}},
                  {"generate": {"n": 3}}, {"seeds": [1]}, {"location": "head"},
                  {"ablations": {"k": [50]}}):  # fmt: skip
        assert changed(later) == set(), later
    assert changed({"collect": {"lr": 0.5}}) == {"collect"}
    assert changed({"collect": {"k": 50}}) == {"collect"}
    assert changed({"evaluate": {"batch_size": 100}}) == {"collect"}
    assert changed({"train_base": {"epochs": 1}}) == {"base", "collect"}
    assert changed({"precision": "bf16"}) == {"base", "collect"}
    assert changed({"device": "cuda"}) == {"data", "base", "collect"}
    assert changed({"data": {"val_size": 1000}}) == {"data", "base", "collect"}
