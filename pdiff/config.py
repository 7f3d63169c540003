"""Experiment configs: read, validated against the JSON schema, defaults filled in."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from pathlib import Path

import yaml

from pdiff.callables import is_callable_name

SCHEMA = Path(__file__).with_name("config.schema.yaml")
# Data sets named otherwise in experiment names (results/fmnist_small_cnn/).
SHORT_NAMES = {"fashion_mnist": "fmnist"}


# The official p-diff generator, always named `paper` in `denoisers` (a config's own
# denoisers.paper settings go over it): the official code's U-Net denoiser on raw latents and
# its own autoencoder, with the settings of NUS-HPC-AI-Lab/Neural-Network-Diffusion,
# workspace/main/cifar100_resnet18.py (current version): DDPM AdamW 1e-4 with cosine decay
# over 1,000 steps, AE (OneDimVAE, model/pdiff.py) AdamW 2e-5 with cosine decay over 500
# steps, batch 50, bf16 autocast on a GPU.
OFFICIAL_GENERATOR = {
    "kind": "paper",
    "latent_norm": "none",
    "lr": 0.0001,
    "lr_schedule": "cosine",
    "steps": 1000,
    "batch_size": 50,
    "weight_decay": 0.0,
    "precision": "bf16",
    "ae": {
        "kind": "paper",
        "channels": [64, 128, 256, 256, 32],
        "latent_length": 128,
        "lr": 0.00002,
        "lr_schedule": "cosine",
        "steps": 500,
        "batch_size": 50,
        "weight_decay": 0.0,
        "precision": "bf16",
    },
}


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
            raise ConfigError(
                f"{section}.name '{name}' is neither a known name "
                f"({', '.join(known['enum'])}) nor a 'package.module:function' "
                "that builds one; fix the name"
            )


# results/<this>/ holds what experiments share (shared_folders); no experiment has it.
SHARED_FOLDER = "shared"

# Keys that pick the default variant; they are wildcards, not settings a stage reads.
VARIANT_KEYS = {"collect": {"k"}, "ae": {"noise"}, "generate": {"sampler"}}
# Keys added after results were made, left out of a stage's settings at their default (which
# keeps the old behaviour), so that adding them does not rerun every experiment made before.
ADDED_KEYS = {"collect": {"runs": 1}}


def stage_settings(config: dict, *sections: str) -> dict:
    """The config sections a stage reads (with `device`), as its rule's params: changing them
    reruns the stage. Keys are sorted: Snakemake compares params as text, and layered config
    files order keys by the file that first set them."""

    def ordered(value):
        return {k: ordered(value[k]) for k in sorted(value)} if isinstance(value, dict) else value

    def settings(name):
        value = ordered(config[name])
        if not isinstance(value, dict):
            return value
        at_default = {k for k, d in ADDED_KEYS.get(name, {}).items() if value.get(k) == d}
        left_out = VARIANT_KEYS.get(name, set()) | at_default
        return {k: v for k, v in value.items() if k not in left_out}

    return {name: settings(name) for name in ("device", *sections)}


def settings_digest(settings: dict) -> str:
    """A short name for a stage's settings: equal settings (in any key order), equal name."""
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def shared_folders(config: dict) -> dict[str, str]:
    """The folders, under results/, of the stages that experiments with equal settings share:
    data, the bases (per {seed}) and the collections (per {seed} and {location}), each named
    by the digest of every setting it depends on. An experiment that changes only later
    stages (the AE, the denoiser, sampling) reuses another's. Your own checkpoints
    (checkpoints.dir) are not shared: their bases and collections stay in the experiment."""
    base = stage_settings(config, "data", "network", "train_base", "precision")
    collect = {**base, **stage_settings(config, "locations", "collect", "evaluate")}
    collect["collect"]["k"] = config["collect"]["k"]  # a longer K continues this one
    return {
        "data": f"{SHARED_FOLDER}/data-{settings_digest(stage_settings(config, 'data'))}",
        "base": f"{SHARED_FOLDER}/base-{settings_digest(base)}/seed{{seed}}",
        "collect": f"{SHARED_FOLDER}/collect-{settings_digest(collect)}/seed{{seed}}/{{location}}",
    }


def experiment_name(config: dict) -> str:
    """<data>_<network>, the name of an experiment whose config does not give one."""
    data, net = config["data"]["name"], config["network"]["name"]
    if is_callable_name(data) or is_callable_name(net):
        raise ConfigError(
            f"experiment: not set, and data.name '{data}' / network.name '{net}' "
            "cannot name it; set experiment in the config"
        )
    return f"{SHORT_NAMES.get(data, data)}_{net}"


def _types(schema: dict) -> set[str]:
    """The JSON types a (sub)schema allows, through anyOf/oneOf and const."""
    kind = schema.get("type", [])
    types = {kind} if isinstance(kind, str) else set(kind)
    for sub in schema.get("anyOf", []) + schema.get("oneOf", []):
        types |= _types(sub)
    if "const" in schema:
        types.add("string" if isinstance(schema["const"], str) else "const")
    return types


def _read_as(text: str, types: set[str]):
    """`text` as a value of one of `types`, or `text` itself when it reads as none of them.
    YAML as Snakemake's --config gives nested values ('20', '[0, 1]', 'false'), and floats
    without a dot ('1e-4'), which YAML 1.1 reads as strings."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and types & {"number"}:
        try:
            value = float(value)
        except ValueError:
            return text
    fits = {
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    return value if any(fits[t](value) for t in types if t in fits) else text


def _coerce(value, schema: dict):
    """`value` with every string read as the type its schema asks for (recursively)."""
    types = _types(schema)
    if isinstance(value, str) and types and "string" not in types:
        value = _read_as(value, types)
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, sub in value.items():
            sub_schema = props.get(key, extra if isinstance(extra, dict) else None)
            if sub_schema is not None:
                value[key] = _coerce(sub, sub_schema)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value[:] = [_coerce(item, schema["items"]) for item in value]
    return value


def validate_config(config: dict) -> dict:
    """Read strings as the types the schema asks for (values from --config, '1e-4'),
    validate the config and fill its defaults in place; return it."""
    import jsonschema

    _coerce(config, _schema())
    _check_names(config)
    try:
        _validator().validate(config)
    except jsonschema.ValidationError as e:
        key = ".".join(str(p) for p in e.absolute_path) or "the config's top level"
        raise ConfigError(f"config key {key}: {e.message} (see {SCHEMA})") from None
    if config["experiment"] is None:
        config["experiment"] = experiment_name(config)
    if config["experiment"] == SHARED_FOLDER:
        raise ConfigError(
            f"experiment: '{SHARED_FOLDER}' is the folder of results/ that experiments share "
            "(data, bases, collections); pick another name"
        )
    config["denoisers"]["paper"] = merge(OFFICIAL_GENERATOR, config["denoisers"].get("paper", {}))
    for name in dict.fromkeys(
        [config["denoiser"], *config["ablations"]["denoiser"], *config["denoisers"]]
    ):
        if name not in config["denoisers"]:
            raise ConfigError(
                f"denoiser '{name}' is not one of denoisers: "
                f"{sorted(config['denoisers'])}; add it there or fix the name"
            )
        _check_ldm(config, name)
    for name in [config["denoiser"], *config["ablations"]["denoiser"]]:
        ldm = ldm_settings(config, name)
        if ldm["kind"] == "transformer" and ldm["channels"] % ldm["heads"]:
            raise ConfigError(
                f"denoiser '{name}': ldm.heads = {ldm['heads']} does not divide "
                f"ldm.channels = {ldm['channels']}, which the transformer "
                "denoiser needs; pick heads that divide the width (e.g. 4 for 64)"
            )
        if ldm["beta_start"] >= ldm["beta_end"]:
            raise ConfigError(
                f"denoiser '{name}': ldm.beta_start = {ldm['beta_start']} is not "
                f"below ldm.beta_end = {ldm['beta_end']}; the noise must grow "
                "over the timesteps (defaults 0.0001 and 0.02)"
            )
    for name in [config["location"], *config["ablations"]["location"]]:
        if name not in config["locations"]:
            raise ConfigError(
                f"location '{name}' is not one of locations: "
                f"{sorted(config['locations'])}; add it there or fix the name"
            )
    _check_runs(config)
    timesteps = min(
        ldm_settings(config, name)["timesteps"]
        for name in [config["denoiser"], *config["ablations"]["denoiser"]]
    )
    for sampler in [config["generate"]["sampler"], *config["ablations"]["sampler"]]:
        steps = int(sampler.partition("-")[2])
        if not 1 <= steps <= timesteps:
            raise ConfigError(
                f"sampler '{sampler}': {steps} reverse steps, but the DDPM has "
                f"ldm.timesteps = {timesteps}; use at most {timesteps} steps "
                "(e.g. ddim-50) or raise ldm.timesteps"
            )
    return config


def _check_runs(config: dict) -> None:
    """Sources from independent runs: K (and every K of the ablation grid) a multiple of
    collect.runs, none above collect.k (a run's collection is not continued), and alignment
    only where there are runs to align. The network and the location are checked by
    pdiff.preflight, which builds the network."""
    runs, first = config["collect"]["runs"], config["collect"]["k"]
    aligned = [a for a in [config["align"], *config["ablations"]["align"]] if a != "none"]
    if runs == 1:
        if aligned:
            raise ConfigError(
                f"align: {aligned[0]} aligns independent runs, but collect.runs is 1; set "
                "collect.runs to the number of runs (e.g. 4) or align: none"
            )
        return
    if config["checkpoints"]["dir"]:
        raise ConfigError(
            "collect.runs > 1 trains the runs' sources, but checkpoints.dir gives your own; "
            "set collect.runs: 1 (your checkpoints' runs are not known to pdiff)"
        )
    for k in dict.fromkeys([first, *config["ablations"]["k"]]):
        if k % runs or k > first:
            raise ConfigError(
                f"K = {k} with collect.runs = {runs}: every K must be a multiple of the runs "
                f"(K/R checkpoints of each) and at most collect.k = {first} (the first K/R of "
                "each run's collection); fix collect.k or ablations.k"
            )


def _check_ldm(config: dict, name: str) -> None:
    """A denoiser's settings (ldm with its overrides) fit the ldm section's schema, and its
    own autoencoder settings, if any, the ae section's."""
    import jsonschema

    preset, props = config["denoisers"][name], _schema()["properties"]
    both = {**props["ldm"]["properties"], "ae": props["ae"]}
    _coerce(preset, {"type": "object", "properties": both})
    sections = {"ldm": {k: v for k, v in preset.items() if k != "ae"}}
    if "ae" in preset:
        sections["ae"] = preset["ae"]
    for section, given in sections.items():
        schema = props[section]
        try:
            _validator().evolve(schema=schema).validate(merge(config[section], given))
        except jsonschema.ValidationError as e:
            key = ".".join(str(p) for p in e.absolute_path) or "its top level"
            where = f"denoisers.{name}" + (".ae" if section == "ae" else "")
            raise ConfigError(
                f"config key {where}.{key}: {e.message} (denoisers hold ldm settings, "
                f"and under `ae` autoencoder settings; see {SCHEMA})"
            ) from None


def split_denoiser(name: str) -> tuple[str, int | None]:
    """'paper-T100' -> ('paper', 100): a named denoiser retrained with T timesteps (the
    timesteps ablation); 'paper' -> ('paper', None)."""
    base, _, steps = name.rpartition("-T")
    return (base, int(steps)) if base and steps.isdigit() else (name, None)


def ldm_settings(config: dict, denoiser: str) -> dict:
    """The ldm settings of one named denoiser: the ldm section with its overrides (and its
    timesteps, for a name of the timesteps ablation)."""
    base, steps = split_denoiser(denoiser)
    preset = {k: v for k, v in config["denoisers"][base].items() if k != "ae"}
    return merge(config["ldm"], preset | ({"timesteps": steps} if steps else {}))


def ae_settings(config: dict, denoiser: str | None = None) -> dict:
    """The autoencoder settings of a denoiser: the ae section, with the denoiser's own `ae`
    overrides when it has them (then it trains an autoencoder of its own)."""
    own = config["denoisers"][split_denoiser(denoiser)[0]].get("ae", {}) if denoiser else {}
    return merge(config["ae"], own)


def has_own_ae(config: dict, denoiser: str) -> bool:
    """Whether a named denoiser trains its own autoencoder (an `ae` key in its settings)."""
    return "ae" in config["denoisers"][split_denoiser(denoiser)[0]]


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    """Read a YAML config, apply nested overrides, validate it."""
    return validate_config(merge(read_yaml(path), overrides or {}))


def read_yaml(path: str | Path) -> dict:
    """A YAML config file as a dict ({} when empty); ConfigError naming the file and the
    line when it is not YAML or not a mapping."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise ConfigError(
            f"{path}: not valid YAML{line}: {getattr(e, 'problem', e)}; fix the "
            "file (a bracket or quote left open is the usual cause)"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config file holds `key: value` lines, not a {type(data).__name__}"
        )
    return data


# Settings that leave an experiment's results as they are: its name, which seeds, ablations
# and exports run, the device, where the data files come from, and extra named locations
# and denoisers.
RESULT_NEUTRAL = {
    "experiment",
    "seeds",
    "ablations",
    "device",
    "paper_table",
    "export",
    "data.root",
    "data.cache",
    "data.download",
}


def differences(config: dict, reference: dict, prefix: str = "") -> dict[str, object]:
    """{dotted key: value in config} of every setting in which two validated configs differ,
    RESULT_NEUTRAL keys left out, and named locations compared only where both name them."""
    out = {}
    for key in sorted(set(config) | set(reference), key=str):
        name = f"{prefix}{key}"
        if name in RESULT_NEUTRAL or (
            prefix in ("locations.", "denoisers.") and (key not in reference or key not in config)
        ):
            continue
        a, b = config.get(key), reference.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(differences(a, b, f"{name}."))
        elif a != b:
            out[name] = a
    return out


def check_variant_is_named(given: dict, config: dict, default_path: str | Path) -> None:
    """Refuse a config that changes results-relevant settings of the default experiment
    (`default_path`) without naming an experiment of its own: its results would overwrite
    the default's under the same results/<experiment>/. A config that carries a paper
    table is not checked: its cells are the experiments, each named after its data set and
    network."""
    if given.get("experiment") is not None or config["paper_table"]["tasks"]:
        return
    default = load_config(default_path)
    if config["experiment"] != default["experiment"]:
        return
    changed = {
        key: value
        for key, value in differences(config, default).items()
        if not key.startswith("denoisers.") or key.split(".")[1] == config["denoiser"]
    }  # other denoisers: extra variants
    if not changed:
        return
    words = [f"{key}-{value}" for key, value in list(changed.items())[:2]]
    suggestion = re.sub(r"[^A-Za-z0-9_.-]+", "", "_".join([config["experiment"], *words]))
    listed = ", ".join(f"{key}: {value!r}" for key, value in changed.items())
    raise ConfigError(
        f"this config changes {listed} from {Path(default_path).name} but does not name its "
        f"experiment, so its results would overwrite the default experiment's in "
        f"results/{config['experiment']}/. Name it: add `experiment: {suggestion}` to your "
        f"config file, or --config experiment={suggestion}"
    )


def describe_variant(config: dict) -> str:
    """The default variant of a validated config in one line, for the head of its tables."""
    ldm = ldm_settings(config, config["denoiser"])
    ae = ae_settings(config, config["denoiser"])
    return (
        f"{config['experiment']}: data {config['data']['name']}, network "
        f"{config['network']['name']}, location {config['location']}, K "
        f"{config['collect']['k']}{_runs_text(config)}, noise {config['ae']['noise']}, "
        f"{ae['kind']} AE, denoiser "
        f"{config['denoiser']} ({ldm['kind']}, latent_norm {ldm['latent_norm']}), sampler "
        f"{config['generate']['sampler']}, "
        f"seeds {', '.join(map(str, config['seeds']))}"
    )


def _runs_text(config: dict) -> str:
    runs = config["collect"]["runs"]
    return f" from {runs} runs (align {config['align']})" if runs > 1 else ""


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
