"""Experiment configs: read, validated against the JSON schema, defaults filled in."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path

import yaml

from pdiff.callables import is_callable_name

SCHEMA = Path(__file__).with_name("config.schema.yaml")
# Data sets named otherwise in experiment names (results/fmnist_small_cnn/).
SHORT_NAMES = {"fashion_mnist": "fmnist"}


class ConfigError(ValueError):
    """A config does not fit the schema; the message names the key and what is allowed."""


@functools.cache
def _schema() -> dict:
    """The schema, parsed once per process (the paper table validates about a hundred
    configs while Snakemake parses the workflow)."""
    return yaml.load(SCHEMA.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def _validator():
    """A JSON-schema validator that also fills in each key's default (jsonschema's recipe,
    as snakemake.utils.validate does; that one re-reads the schema file on every call)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": fill_defaults})(_schema())


def _check_names(config: dict) -> None:
    """data.name and network.name: a known name or 'module:function'. Checked before the
    schema, whose error for a failed anyOf would not list the known names."""
    for section in ("data", "network"):
        given = config.get(section)
        name = given.get("name") if isinstance(given, dict) else None
        if not isinstance(name, str):
            continue  # absent (the default) or of the wrong type, which the schema reports
        known, pattern = _schema()["properties"][section]["properties"]["name"]["anyOf"]
        if name not in known["enum"] and not re.match(pattern["pattern"], name):
            raise ConfigError(f"{section}.name '{name}' is neither a known name "
                              f"({', '.join(known['enum'])}) nor a 'package.module:function' "
                              "that builds one; fix the name")


def experiment_name(config: dict) -> str:
    """<data>_<network>, the name of an experiment whose config does not give one."""
    data, net = config["data"]["name"], config["network"]["name"]
    if is_callable_name(data) or is_callable_name(net):
        raise ConfigError(f"experiment: not set, and data.name '{data}' / network.name '{net}' "
                          "cannot name it; set experiment in the config")
    return f"{SHORT_NAMES.get(data, data)}_{net}"


def validate_config(config: dict) -> dict:
    """Validate (and fill defaults into) a config dict; return it."""
    import jsonschema

    _check_names(config)
    try:
        _validator().validate(config)
    except jsonschema.ValidationError as e:
        key = ".".join(str(p) for p in e.absolute_path) or "the config's top level"
        raise ConfigError(f"config key {key}: {e.message} (see {SCHEMA})") from None
    if config["experiment"] is None:
        config["experiment"] = experiment_name(config)
    for name in [config["location"], *config["ablations"]["location"]]:
        if name not in config["locations"]:
            raise ConfigError(f"location '{name}' is not one of locations: "
                              f"{sorted(config['locations'])}; add it there or fix the name")
    return config


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    """Read a YAML config, apply nested overrides, validate it."""
    return validate_config(merge(read_yaml(path), overrides or {}))


def read_yaml(path: str | Path) -> dict:
    """A YAML config file as a dict ({} when empty)."""
    return yaml.safe_load(Path(path).read_text()) or {}


def layered_config(base: dict, layers: list[str | Path], top: dict | None = None) -> dict:
    """A config as `snakemake --configfile <base's files> <layers> <top's>` gives it,
    validated: `base` (as given, before defaults), the layer files merged on top in order,
    then `top`. The experiment is named after its data set and network unless a layer or
    `top` names it, and it defines no paper table of its own."""
    config = {k: v for k, v in base.items() if k != "experiment"}
    for layer in layers:
        config = merge(config, read_yaml(layer))
    config = merge(config, top or {})
    config.pop("paper_table", None)
    return validate_config(config)


def merge(base: dict, overrides: dict) -> dict:
    """A deep copy of `base` with `overrides` merged in, nested dicts key by key."""
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
