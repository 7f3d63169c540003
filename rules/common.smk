# Helpers of the workflow: config validation, paths, wildcard constraints, target lists.
from pathlib import Path

from pdiff.config import validate_config

validate_config(config)

# Every artifact's path. One experiment lives under RESULTS; its tree follows the wildcards
# seed / location / k / noise / sampler; logs and benchmarks mirror it.
RESULTS = f"results/{config['experiment']}"
RUN = f"{RESULTS}/seed{{seed}}"
SUBSET = f"{RUN}/{{location}}"
MATRIX = f"{SUBSET}/k{{k}}"
MODELS = f"{MATRIX}/noise-{{noise}}"
SAMPLES = f"{MODELS}/{{sampler}}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"

DATA = f"{RESULTS}/data.safetensors"
BASE = f"{RUN}/base.safetensors"
BASE_METRICS = f"{RUN}/base.json"
CHECKPOINTS = f"{SUBSET}/checkpoints"
CHECKPOINT_TABLE = f"{SUBSET}/checkpoints.csv"
PARAM_MATRIX = f"{MATRIX}/param_matrix.safetensors"
LAYOUT = f"{MATRIX}/layout.json"
AE = f"{MODELS}/ae.safetensors"
AE_METRICS = f"{MODELS}/ae.json"
LDM = f"{MODELS}/ldm.safetensors"
LDM_METRICS = f"{MODELS}/ldm.json"
GENERATED = f"{SAMPLES}/generated.safetensors"
EVALUATION = f"{SAMPLES}/evaluation.csv"
PREDICTIONS = f"{SAMPLES}/predictions.safetensors"
MAIN_TABLE = f"{RESULTS}/main_table.csv"
MAIN_TABLE_MD = f"{RESULTS}/main_table.md"


wildcard_constraints:
    seed=r"\d+",
    k=r"\d+",
    location="|".join(config["locations"]),
    noise="none|input|latent|both",
    sampler=r"(ddpm|ddim|dpm)-\d+",


def log_path(output):
    """The log file mirroring an output path."""
    return str(Path(output.replace(RESULTS, LOGS, 1)).with_suffix(".log"))


def bench_path(output):
    """The benchmark file mirroring an output path."""
    return str(Path(output.replace(RESULTS, BENCH, 1)).with_suffix(".tsv"))


def get_cfg(*sections):
    """The config sections a stage reads, as params (changing them reruns the stage)."""
    return {s: config[s] for s in ("device", *sections)}


def get_collect_k():
    """Checkpoints collected per location: the largest K any target asks for."""
    return config["collect"]["k"]


def get_default_variant():
    """Wildcard values of the default experiment."""
    g = config["generate"]
    return dict(location=config["location"], k=config["collect"]["k"],
                noise=config["ae"]["noise"], sampler=f"{g['sampler']}-{g['steps']}")


def get_main_evaluations(wildcards=None):
    """The default variant's evaluation table of every seed."""
    return {str(seed): expand(EVALUATION, seed=seed, **get_default_variant())[0]
            for seed in config["seeds"]}


def get_final_targets():
    """What `snakemake` builds by default: the main table and every stage's artifact of the
    default variant (listed, so that deleting one reruns it and what follows)."""
    stages = [BASE, CHECKPOINT_TABLE, PARAM_MATRIX, AE, LDM, GENERATED, EVALUATION]
    return [MAIN_TABLE, MAIN_TABLE_MD] + expand(
        stages, seed=config["seeds"], **get_default_variant())


def print_main_table():
    """Print the main table when a run ends (the path is printed too)."""
    table = Path(MAIN_TABLE_MD)
    if table.exists():
        print(f"\nMain table ({table}):\n\n{table.read_text()}")
