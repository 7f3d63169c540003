# Helpers of the workflow: config validation, paths, wildcard constraints, target lists.
from pdiff.config import validate_config

validate_config(config)

# Everything of one experiment lives under RESULTS; logs and benchmarks mirror its tree.
RESULTS = f"results/{config['experiment']}"
RUN = RESULTS + "/seed{seed}"
SUBSET = RUN + "/{location}"
MATRIX = SUBSET + "/k{k}"
MODELS = MATRIX + "/noise-{noise}"
SAMPLES = MODELS + "/{sampler}"
LOGS = RESULTS + "/logs"
BENCH = RESULTS + "/benchmarks"


wildcard_constraints:
    seed=r"\d+",
    k=r"\d+",
    location="|".join(config["locations"]),
    noise="none|input|latent|both",
    sampler=r"(ddpm|ddim|dpm)-\d+",


def log_path(pattern):
    """The log file mirroring an output path pattern."""
    return pattern.replace(RESULTS, LOGS) + ".log"


def bench_path(pattern):
    """The benchmark file mirroring an output path pattern."""
    return pattern.replace(RESULTS, BENCH) + ".tsv"


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
    return {str(seed): expand(SAMPLES + "/evaluation.csv", seed=seed, **get_default_variant())[0]
            for seed in config["seeds"]}


def get_final_targets():
    """What `snakemake` builds by default: the main table."""
    return [f"{RESULTS}/main_table.csv", f"{RESULTS}/main_table.md"]
