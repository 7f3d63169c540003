# Helpers of the workflow: config validation, paths, wildcard constraints, target lists.
import copy
import shlex
from pathlib import Path

import pandas as pd

from pdiff.config import (
    SHARED_FOLDER,
    ConfigError,
    ae_settings,
    check_variant_is_named,
    describe_variant,
    has_own_ae,
    layered_config,
    ldm_settings,
    shared_folders,
    stage_settings,
    split_denoiser,
    validate_config,
)
from pdiff.preflight import check_runnable
from pdiff.runtime import stop_jobs_on_interrupt

# The paper table's experiments are layered on the config as given (before its defaults), and
# the command line's config files and --config go on top again, as when a cell runs alone
# (`--configfile experiments/paper.yaml tasks/X.yaml nets/Y.yaml <yours>`): the same jobs.
CONFIG_AS_GIVEN = copy.deepcopy(config)
COMMAND_LINE_CONFIG = copy.deepcopy(workflow.config_settings.overwrite_config or {})
validate_config(config)
# A variant of the default experiment (config.yaml of the working directory, else this
# workflow's) has a name of its own: it never overwrites the default's results.
DEFAULT_CONFIG = next(
    p for p in (Path("config.yaml"), Path(workflow.basedir) / "config.yaml") if p.exists()
)
check_variant_is_named(CONFIG_AS_GIVEN, config, DEFAULT_CONFIG)
# Patterns that match nothing, an AE that cannot take its subset: stopped before any job.
if workflow.is_main_process:
    check_runnable(config, checked=".snakemake/pdiff_checked")
    # One Ctrl-C stops the running jobs too, not only the scheduling of new ones.
    stop_jobs_on_interrupt()


def get_results(experiment):
    """The folder of one experiment's outputs."""
    return f"results/{experiment}"


def get_main_table(experiment):
    """One experiment's main table."""
    return f"{get_results(experiment)}/main_table.csv"


def align_folder(align):
    """The {align} wildcard of an align value: empty for none, else -align-<value>."""
    return "" if align == "none" else f"-align-{align}"


def get_run_bases(wildcards):
    """{"run_bases": [the bases of runs 1 to R-1]} of collect.runs = R (use with unpack)."""
    runs = range(1, config["collect"]["runs"])
    return {"run_bases": expand(RUN_BASE, seed=wildcards.seed, run=runs)} if runs else {}


def get_runs_table(wildcards):
    """{"table": the collection's table} when the sources come from several runs (its run
    column picks each run's rows), else nothing (use with unpack)."""
    if config["collect"]["runs"] == 1:
        return {}
    return {"table": get_collection(CHECKPOINT_TABLE)(wildcards)}


def get_cfg(*sections):
    """The config sections a stage reads, as params (pdiff.config.stage_settings)."""
    return stage_settings(config, *sections)


# Every artifact's path. One experiment lives under RESULTS; its tree follows the wildcards
# seed / location / k (with align) / noise / denoiser / sampler; logs and benchmarks mirror it.
RESULTS = get_results(config["experiment"])
RUN = f"{RESULTS}/seed{{seed}}"
SUBSET = f"{RUN}/{{location}}"
# {align} is empty for align: none (the folder stays k<K>) and -align-<method> otherwise.
MATRIX = f"{SUBSET}/k{{k}}{{align}}"
MODELS = f"{MATRIX}/noise-{{noise}}"
DENOISER = f"{MODELS}/ldm-{{denoiser}}"
SAMPLES = f"{DENOISER}/{{sampler}}"
LOGS = f"{RESULTS}/logs"

# Data, bases and collections are the same for every experiment with the same settings: they
# live in results/shared/, in folders named by a digest of the settings they read, and a new
# experiment that changes only later stages reuses them. Your own checkpoints stay with their
# experiment.
SHARED = get_results(SHARED_FOLDER)
_shared = {stage: get_results(folder) for stage, folder in shared_folders(config).items()}
DATA = f"{_shared['data']}/data.safetensors"
if config["checkpoints"]["dir"]:
    BASES, COLLECTIONS = RUN, SUBSET
else:
    BASES, COLLECTIONS = _shared["base"], _shared["collect"]
BASE = f"{BASES}/base.safetensors"
BASE_METRICS = f"{BASES}/base.json"
# The bases of runs 1 to R-1 of collect.runs (run 0's is BASE).
RUN_BASE = f"{BASES}/base-run{{run}}.safetensors"
RUN_BASE_METRICS = f"{BASES}/base-run{{run}}.json"
COLLECTION = f"{COLLECTIONS}/collect-{{k}}"
CHECKPOINTS = f"{COLLECTION}/checkpoints"
CHECKPOINT_TABLE = f"{COLLECTION}/checkpoints.csv"
SOURCE_PREDICTIONS = f"{COLLECTION}/checkpoint_predictions.safetensors"
COLLECT_STATE = f"{COLLECTION}/optimizer.safetensors"
PARAM_MATRIX = f"{MATRIX}/param_matrix.safetensors"
LAYOUT = f"{MATRIX}/layout.json"
AE = f"{MODELS}/ae.safetensors"
AE_METRICS = f"{MODELS}/ae.json"
# A denoiser with an autoencoder of its own (the official generator) keeps it in its folder;
# the VAE of the vae_prior control sits beside the autoencoder it mirrors.
OWN_AE, OWN_AE_METRICS = f"{DENOISER}/ae.safetensors", f"{DENOISER}/ae.json"
VAE, VAE_METRICS = f"{MODELS}/vae.safetensors", f"{MODELS}/vae.json"
OWN_VAE, OWN_VAE_METRICS = f"{DENOISER}/vae.safetensors", f"{DENOISER}/vae.json"
LDM = f"{DENOISER}/ldm.safetensors"
LDM_METRICS = f"{DENOISER}/ldm.json"
GENERATED = f"{SAMPLES}/generated.safetensors"
EVALUATION = f"{SAMPLES}/evaluation.csv"
PREDICTIONS = f"{SAMPLES}/predictions.safetensors"
CONTROLS = f"{SAMPLES}/controls.safetensors"
EXPORT = f"{SAMPLES}/export"
MAIN_TABLE = get_main_table(config["experiment"])
MAIN_TABLE_MD = str(Path(MAIN_TABLE).with_suffix(".md"))
ABLATION = f"{RESULTS}/ablations/ablation_{{axis}}"
ABLATION_CSV, ABLATION_MD, ABLATION_PNG = (f"{ABLATION}.{ext}" for ext in ("csv", "md", "png"))
MEMORIZATION = f"{SAMPLES}/memorization"
MEMORIZATION_CSV = f"{MEMORIZATION}.csv"
MEMORIZATION_MD = f"{MEMORIZATION}.md"
MEMORIZATION_MODELS = f"{MEMORIZATION}_models.csv"
MEMORIZATION_SIMILARITY = f"{MEMORIZATION}_similarity.safetensors"
MEMORIZATION_SCATTER = f"{MEMORIZATION}_scatter.png"
MEMORIZATION_TSNE = f"{MEMORIZATION}_tsne.png"
NEAREST_RUN_MD, NEAREST_RUN_PNG = f"{SAMPLES}/nearest_run.md", f"{SAMPLES}/nearest_run.png"
SIMILARITY_BY_K = f"{RESULTS}/memorization/similarity_by_k"
SIMILARITY_BY_K_CSV, SIMILARITY_BY_K_MD, SIMILARITY_BY_K_PNG = (
    f"{SIMILARITY_BY_K}.{ext}" for ext in ("csv", "md", "png")
)
AXES = ("k", "location", "align", "noise", "denoiser", "sampler", "timesteps")
HTML_REPORT = f"{RESULTS}/report.html"
PAPER_TABLE_CSV, PAPER_TABLE_MD = "results/paper_table.csv", "results/paper_table.md"
EXPERIMENTS = Path(workflow.basedir) / "experiments"


wildcard_constraints:
    seed=r"\d+",
    run=r"[1-9]\d*",
    k=r"\d+",
    align=r"(-align-[a-z]+)?",
    location="|".join(config["locations"]),
    noise=r"(none|input|latent|both)(-x[0-9]*\.?[0-9]+)?",
    denoiser=f"({'|'.join(config['denoisers'])})(-T\\d+)?",
    sampler=r"(ddpm|ddim|dpm)-\d+",
    axis="|".join(AXES),


def mirror_path(output, folder, suffix):
    """The file mirroring an output path in the logs or benchmarks folder of its results
    (this experiment's, or the shared one's)."""
    root = SHARED if output.startswith(f"{SHARED}/") else RESULTS
    return str(Path(output.replace(root, f"{root}/{folder}", 1)).with_suffix(suffix))


def log_path(output):
    """The log file mirroring an output path."""
    return mirror_path(output, "logs", ".log")


def bench_path(output):
    """The benchmark file mirroring an output path."""
    return mirror_path(output, "benchmarks", ".tsv")


def get_ldm_settings(wildcards):
    """The ldm settings of this denoiser (the ldm section with its overrides), as params."""
    settings = ldm_settings(config, wildcards.denoiser)
    return {key: settings[key] for key in sorted(settings)}


def get_ae_settings(wildcards):
    """The autoencoder settings of a variant (its denoiser's own, if it has them), as params;
    the noise is the wildcard's."""
    settings = ae_settings(config, wildcards.get("denoiser"))
    return {key: settings[key] for key in sorted(settings) if key != "noise"}


# The autoencoder's files: (in its noise folder, in its denoiser's folder).
AE_FILES = {
    "ae": (AE, OWN_AE),
    "ae_metrics": (AE_METRICS, OWN_AE_METRICS),
    "vae": (VAE, OWN_VAE),
}


def get_ae(wildcards, name="ae"):
    """The autoencoder a variant decodes with: its denoiser's own (shared by the denoiser's
    timesteps variants) or else the one of its noise folder. name: a key of AE_FILES."""
    w = dict(wildcards.items())
    own = "denoiser" in w and has_own_ae(config, w["denoiser"])
    if own:
        w["denoiser"] = split_denoiser(w["denoiser"])[0]
    return expand(AE_FILES[name][own], **w)[0]


def get_vae(wildcards):
    """{"vae": path} when the vae_prior control is on and the variant's autoencoder is the
    official one (the VAE baseline mirrors it), else nothing (use with unpack)."""
    official = ae_settings(config, wildcards.get("denoiser"))["kind"] == "paper"
    if "vae_prior" not in config["controls"]["kinds"] or not official:
        return {}
    return {"vae": get_ae(wildcards, "vae")}


def get_collection_size(wildcards):
    """The collection a K reads its first K checkpoints from: collect.k checkpoints for K up
    to collect.k (what the main run collects), else the largest K the ablation grid asks of
    this location (the K ablation varies the default location only), which extends the
    first collection."""
    k, first = int(wildcards.k), config["collect"]["k"]
    if k <= first:
        return first
    return max(
        [first, *config["ablations"]["k"]] if wildcards.location == config["location"] else [first]
    )


def get_collection(path):
    """An input function: `path` (a collection's output) for the collection of this K."""
    return lambda wildcards: expand(
        path, **{**dict(wildcards.items()), "k": get_collection_size(wildcards)}
    )[0]


def get_earlier_collection(wildcards):
    """A collection longer than collect.k continues the collect.k one: its outputs."""
    first = config["collect"]["k"]
    if int(wildcards.k) <= first:
        return {}
    paths = dict(
        earlier_checkpoints=CHECKPOINTS,
        earlier_table=CHECKPOINT_TABLE,
        earlier_predictions=SOURCE_PREDICTIONS,
        earlier_state=COLLECT_STATE,
    )
    return {
        key: expand(path, k=first, seed=wildcards.seed, location=wildcards.location)[0]
        for key, path in paths.items()
    }


def get_own_checkpoints():
    """Inputs of the import rules when the sources are the user's own checkpoints."""
    c = config["checkpoints"]
    return [c["dir"]] + ([c["base"]] if c["base"] else [])


def get_default_variant():
    """Wildcard values of the default experiment."""
    return dict(
        location=config["location"],
        k=config["collect"]["k"],
        align=align_folder(config["align"]),
        noise=config["ae"]["noise"],
        denoiser=config["denoiser"],
        sampler=config["generate"]["sampler"],
    )


def get_provenance(wildcards):
    """What an exported model records of the run that made it."""
    variant = {key: wildcards[key] for key in ("location", "k", "noise", "denoiser", "sampler")}
    if wildcards.align:
        variant["align"] = wildcards.align.removeprefix("-align-")
    seed = int(wildcards.seed)
    return {"experiment": config["experiment"], "seed": seed, "variant": variant, "data": DATA}


def get_ablation_variants(axis):
    """(seed, wildcard values) of every variant of one axis, the others at the default. A
    timesteps value T is the default denoiser retrained with T steps, sampled by ddpm-T (the
    default's own T: the default variant)."""

    def variant(value):
        if axis == "align":
            return {"align": align_folder(value)}
        if axis != "timesteps":
            return {axis: value}
        default = config["denoiser"]
        if value == ldm_settings(config, default)["timesteps"]:
            return {}
        return {"denoiser": f"{default}-T{value}", "sampler": f"ddpm-{value}"}

    return [
        (seed, {**get_default_variant(), **variant(value)})
        for value in config["ablations"][axis]
        for seed in config["seeds"]
    ]


def get_ablation_evaluations(wildcards):
    """Evaluation tables of an axis's variants, in the order of get_ablation_labels."""
    return [
        expand(EVALUATION, seed=seed, **variant)[0]
        for seed, variant in get_ablation_variants(wildcards.axis)
    ]


def get_ablation_labels(wildcards):
    """The axis value of each evaluation table of get_ablation_evaluations."""
    return [str(value) for value in config["ablations"][wildcards.axis] for _ in config["seeds"]]


def get_ablation_targets():
    """Every ablation table, its Markdown and its plot (alignment only for several runs)."""
    axes = [a for a in AXES if a != "align" or config["collect"]["runs"] > 1]
    return expand([ABLATION_CSV, ABLATION_MD, ABLATION_PNG], axis=axes)


def get_k_predictions(wildcards=None):
    """Test predictions of every K variant of the ablation grid, every seed."""
    return [
        expand(PREDICTIONS, seed=seed, **variant)[0] for seed, variant in get_ablation_variants("k")
    ]


def get_memorization_targets():
    """Every output of `snakemake memorization`: the default variant's, per seed (with the
    nearest-run analysis for sources from several runs)."""
    runs = [NEAREST_RUN_MD, NEAREST_RUN_PNG] if config["collect"]["runs"] > 1 else []
    return expand(
        [
            MEMORIZATION_CSV,
            MEMORIZATION_MD,
            MEMORIZATION_MODELS,
            MEMORIZATION_SCATTER,
            MEMORIZATION_TSNE,
            *runs,
        ],
        seed=config["seeds"],
        **get_default_variant(),
    )


def get_similarity_by_k_targets():
    """The outputs of `snakemake memorization_by_k` (which trains every K of the grid)."""
    return [SIMILARITY_BY_K_CSV, SIMILARITY_BY_K_MD, SIMILARITY_BY_K_PNG]


def get_report_targets():
    """This experiment's report: the main table, and every ablation, memorization and
    similarity-by-K output, as far as they exist already (parts not run are left out)."""
    made = [
        MAIN_TABLE,
        *get_ablation_targets(),
        *get_memorization_targets(),
        *get_similarity_by_k_targets(),
    ]
    return [path for path in made if Path(path).exists()]


def get_caption(name):
    """The text of Snakemake's report caption report/<name>.rst, its one template value (an
    ablation's axis) in words."""
    text = Path(workflow.basedir, "report", f"{name}.rst").read_text()
    return " ".join(text.replace("{{ snakemake.wildcards.axis }}", "each axis").split())


def get_report_sections():
    """The HTML report's sections in order: title -> its caption (the text of Snakemake's
    report's caption file) and the [short label, file] of each table (.md) and plot made so
    far; the main table always."""
    variant = get_default_variant()

    def per_seed(*labelled):
        return [
            [f"seed {seed}: {label}", expand(path, seed=seed, **variant)[0]]
            for seed in config["seeds"]
            for label, path in labelled
        ]

    axes = [a for a in AXES if a != "align" or config["collect"]["runs"] > 1]
    sections = {
        "Main table": ("main_table", [["main table", MAIN_TABLE_MD]]),
        "Memorization": (
            "memorization",
            per_seed(
                ("table", MEMORIZATION_MD),
                ("scatter", MEMORIZATION_SCATTER),
                ("t-SNE", MEMORIZATION_TSNE),
            ),
        ),
        "Nearest run": (
            "nearest_run",
            per_seed(("table", NEAREST_RUN_MD), ("plot", NEAREST_RUN_PNG)),
        ),
        "Ablations": (
            "ablation",
            [
                [f"{axis}{kind}", expand(path, axis=axis)[0]]
                for axis in axes
                for kind, path in (("", ABLATION_MD), (" plot", ABLATION_PNG))
            ],
        ),
        "Similarity by K": (
            "similarity_by_k",
            [["table", SIMILARITY_BY_K_MD], ["plot", SIMILARITY_BY_K_PNG]],
        ),
    }
    return {
        title: {
            "caption": get_caption(caption),
            "files": [[label, f] for label, f in files if f == MAIN_TABLE_MD or Path(f).exists()],
        }
        for title, (caption, files) in sections.items()
    }


def get_report_files(wildcards=None):
    """Every file of the HTML report (get_report_sections)."""
    return [f for s in get_report_sections().values() for _, f in s["files"]]


def get_main(path):
    """One artifact of the default variant for every seed (in the order of config seeds);
    a key of AE_FILES: that file of the variant's autoencoder."""
    if path in AE_FILES:
        return [get_ae({"seed": s, **get_default_variant()}, path) for s in config["seeds"]]
    return expand(path, seed=config["seeds"], **get_default_variant())


def get_final_targets():
    """What `snakemake` builds by default: the main table and every stage's artifact of the
    default variant (listed, so that deleting one reruns it and what follows)."""
    stages = [BASE, CHECKPOINT_TABLE, PARAM_MATRIX, LDM, GENERATED, EVALUATION]
    variant = get_default_variant()
    return (
        [MAIN_TABLE, MAIN_TABLE_MD, HTML_REPORT]
        + expand(stages, seed=config["seeds"], n=config["collect"]["k"], **variant)
        + get_main("ae")
    )


def get_paper_cells():
    """{experiment: (task, net, config)} of every data set x architecture in paper_table:
    the config as given with experiments/<defaults>.yaml, tasks/<task>.yaml and
    nets/<net>.yaml on top, named <data>_<network>."""
    table, cells = config["paper_table"], {}
    defaults = [EXPERIMENTS / f"{table['defaults']}.yaml"] if table["defaults"] else []
    for task in table["tasks"]:
        for net in table["nets"]:
            files = [
                *defaults,
                EXPERIMENTS / "tasks" / f"{task}.yaml",
                EXPERIMENTS / "nets" / f"{net}.yaml",
            ]
            for f in files:
                if not f.exists():
                    raise ConfigError(
                        f"paper_table: {f} does not exist; paper_table's names "
                        f"are files in {EXPERIMENTS}"
                    )
            cfg = layered_config(CONFIG_AS_GIVEN, files, COMMAND_LINE_CONFIG)
            if cfg["experiment"] == config["experiment"]:
                raise ConfigError(
                    f"paper_table: {task} x {net} is this run's own experiment "
                    f"{cfg['experiment']}; run the table without its files"
                )
            if cfg["experiment"] in cells:
                raise ConfigError(
                    f"paper_table: {task} x {net} and "
                    f"{' x '.join(cells[cfg['experiment']][:2])} are both "
                    f"named {cfg['experiment']}; give their data sets or "
                    "networks different names"
                )
            if workflow.is_main_process:
                check_runnable(cfg, checked=".snakemake/pdiff_checked")
            cells[cfg["experiment"]] = (task, net, cfg)
    return cells


def get_paper_tables(wildcards=None):
    """Main tables of the paper table's experiments, in grid order."""
    if not PAPER_CELLS:
        raise ConfigError(
            "paper_table: no experiments; run it with --configfile "
            "experiments/paper_table.yaml, or list paper_table.tasks and nets"
        )
    return [get_main_table(name) for name in PAPER_CELLS]


def print_main_table():
    """When a run ends: the main table, the exported models, where the plots are, the HTML
    report and the report commands of this very experiment (its config files and --config
    overrides)."""
    table = Path(MAIN_TABLE_MD)
    if table.exists():
        print(f"\nMain table ({table}):\n\n{table.read_text()}")
    if PAPER_CELLS and Path(PAPER_TABLE_MD).exists():
        print(f"\nPaper table ({PAPER_TABLE_MD}):\n\n{Path(PAPER_TABLE_MD).read_text()}")
    for models in sorted(Path(RESULTS).rglob("export/models.csv")):
        print(f"Exported models in {models.parent}/ (pdiff.load_model; generator/: more):")
        print(pd.read_csv(models).to_markdown(index=False, floatfmt=".2f") + "\n")
    plots = sorted(Path(RESULTS).rglob("*.png"))
    if plots:
        print("Plots:\n" + "\n".join(f"  {p}" for p in plots))
    files = [str(Path(f)) for f in workflow.overwrite_configfiles or []]
    args = ["--configfile", *files] if files else []
    if workflow.config_settings.config:
        args += ["--config", *workflow.config_settings.config_args]
    page = Path(HTML_REPORT)
    command = shlex.join(["snakemake", "html_report", *args])
    if page.exists():
        made = page.stat().st_mtime
        newer = [f for f in get_report_files() if Path(f).stat().st_mtime > made]
        print(
            f"Report for the browser: {page}"
            + (f" (remake it with {command}: tables made since)" if newer else "")
        )
    else:
        print(f"Report for the browser, with every table and plot made so far: {command}")
    print(
        "Provenance (rules, code, timings): "
        + shlex.join(["snakemake", "results_so_far", "--report", "report.html", *args])
    )
