"""Experiment configs: read, validated against the JSON schema, defaults filled in."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

SCHEMA = Path(__file__).with_name("config.schema.yaml")


class ConfigError(ValueError):
    """A config does not fit the schema; the message names the key and what is allowed."""


def validate_config(config: dict) -> dict:
    """Validate (and fill defaults into) a config dict; return it."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(SCHEMA), set_default=True)
    except WorkflowError as e:
        raise ConfigError(str(e)) from None
    for name in [config["location"], *config["ablations"]["location"]]:
        if name not in config["locations"]:
            raise ConfigError(f"location '{name}' is not one of locations: "
                              f"{sorted(config['locations'])}; add it there or fix the name")
    return config


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    """Read a YAML config, apply nested overrides, validate it."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    return validate_config(merge(config, overrides or {}))


def merge(base: dict, overrides: dict) -> dict:
    """A deep copy of `base` with `overrides` merged in, nested dicts key by key."""
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
