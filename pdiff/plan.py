"""A dry run with a time estimate: the jobs Snakemake would run, per rule, and how long
they took in earlier runs (their benchmark files under results/).

    python -m pdiff.plan ablations --configfile mine.yaml     # or: make plan TARGET=ablations

Every argument goes to `snakemake -n`. A rule's time per job is the median of its earlier
jobs, this experiment's where it has any, else every experiment's; rules never measured
are named, not guessed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from pdiff.config import SHARED_FOLDER

# A benchmark file is named after its rule's first output (logs and benchmarks mirror the
# results tree): that file name's stem -> the rule.
RULE_OF_OUTPUT = {
    "base": "train_base",
    "checkpoints": "collect_checkpoints",
    "ae": "train_ae",
    "vae": "train_vae",
    "ldm": "train_ldm",
    "generated": "generate",
    "evaluation": "evaluate",
    "memorization": "memorization_baselines",
    "similarity_by_k": "similarity_by_k",
}


def rule_of_benchmark(path: str | Path) -> str:
    """The rule that wrote a benchmark file (base-run<r>.tsv: train_run_base)."""
    stem = Path(path).stem
    if stem.startswith("base-run"):
        return "train_run_base"
    return RULE_OF_OUTPUT.get(stem, stem)


def earlier_jobs(results: Path) -> pd.DataFrame:
    """Every benchmark file under `results`: its experiment (the folder below results/; for
    the shared stages, shared/<its digest folder>), rule and seconds."""
    rows = []
    for f in sorted(results.glob("*/benchmarks/**/*.tsv")):
        seconds = pd.read_csv(f, sep="\t").s.iloc[-1]
        rows.append(
            {
                "experiment": _owner(f.relative_to(results).parts),
                "rule": rule_of_benchmark(f),
                "s": seconds,
            }
        )
    return pd.DataFrame(rows, columns=["experiment", "rule", "s"])


def _owner(parts: tuple[str, ...]) -> str:
    return f"{parts[0]}/{parts[2]}" if parts[0] == SHARED_FOLDER else parts[0]


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The per-rule job counts of `snakemake -n --quiet rules`' table."""
    counts, in_table = {}, False
    for line in dry_run_output.splitlines():
        words = line.split()
        if words[:2] == ["Job", "stats:"]:
            in_table = True
        elif in_table and len(words) == 2 and words[1].isdigit():
            if words[0] == "total":
                break
            counts[words[0]] = int(words[1])
    return counts


# Rules measured like another's when they have no earlier job of their own.
LIKE = {"train_own_ae": "train_ae", "train_own_vae": "train_vae", "train_run_base": "train_base"}
# Rules without a benchmark file: tables, matrices and targets that take seconds.
LIGHT = ("all", "param_matrix", "summarize", "html_report", "ablation_table", "ablations",
         "memorization", "memorization_by_k", "nearest_run", "paper_table", "table",
         "results_so_far", "export_models", "export", "import_base",
         "import_checkpoints")  # fmt: skip


def estimate(counts: dict[str, int], jobs: pd.DataFrame, own: set[str]) -> pd.DataFrame:
    """Per rule to run: jobs, seconds per job (median of earlier ones) and where from; the
    earlier jobs of `own` (this experiment and its shared folders) first."""
    rows = []
    for rule, n in counts.items():
        # a paper-table cell's rules carry its experiment's name as a prefix
        known = [*RULE_OF_OUTPUT.values(), *LIKE, *LIGHT]
        base = max((r for r in known if rule == r or rule.endswith(f"_{r}")), key=len, default=rule)
        if base in LIGHT:
            rows.append({"rule": rule, "jobs": n, "s_per_job": 0.0, "s": 0.0, "from": "light"})
            continue
        measured_as = base if (jobs.rule == base).any() else LIKE.get(base, base)
        done = jobs[jobs.rule == measured_as]
        own_jobs = done[done.experiment.isin(own)]
        done = own_jobs if len(own_jobs) else done
        per_job = done.s.median() if len(done) else float("nan")
        source = f"median of {len(done)}" + ("" if len(own_jobs) else ", other experiments")
        source += f", as {measured_as}" if measured_as != base else ""
        rows.append({"rule": rule, "jobs": n, "s_per_job": per_job, "s": n * per_job,
                     "from": source if len(done) else "never measured here"})  # fmt: skip
    return pd.DataFrame(rows, columns=["rule", "jobs", "s_per_job", "s", "from"])


def main(argv: list[str]) -> int:
    command = [sys.executable, "-m", "snakemake", "-n", *argv, "--quiet", "rules"]
    proc = subprocess.run(command, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        print(out, end="")
        return proc.returncode
    counts = job_counts(out)
    if not counts:
        print("Nothing to be done: every output is up to date.")
        return 0
    table = estimate(counts, earlier_jobs(Path("results")), _own(argv))
    print(table.to_markdown(index=False, floatfmt=".1f"))
    unmeasured = table[table.s.isna()]
    print(
        f"\nAbout {table.s.sum() / 60:.1f} min of job time, from earlier runs' benchmark files "
        "under results/ (on a CPU, jobs that use every core run one after another)"
        + (f"; never measured here: {', '.join(unmeasured.rule)}" if len(unmeasured) else "")
    )
    return 0


def _own(argv: list[str]) -> set[str]:
    """This run's experiment and its shared folders, from the config files and --config
    values in argv (on config.yaml, as the Snakefile); none where they do not resolve."""
    from pdiff.config import layered_config, read_yaml, shared_folders

    files, top, option = [], {}, None
    for arg in argv:
        if arg.startswith("-"):
            option = arg
        elif option == "--configfile":
            files.append(arg)
        elif option == "--config" and "=" in arg:
            key, value = arg.split("=", 1)
            top[key] = yaml.safe_load(value)
    try:
        cfg = layered_config(read_yaml("config.yaml"), files, top)
    except Exception:  # an estimate needs no valid config: snakemake -n has checked it
        return set()
    shared = {"/".join(folder.split("/")[:2]) for folder in shared_folders(cfg).values()}
    return {cfg["experiment"], *shared}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
