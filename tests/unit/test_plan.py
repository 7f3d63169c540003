import math

import pandas as pd

from pdiff.plan import earlier_jobs, estimate, job_counts, rule_of_benchmark

DRY_RUN = """Building DAG of jobs...
Job stats:
job                   count
------------------  -------
all                       1
train_ae                  2
train_own_ae              1
train_ldm                 3
cifar10_resnet18_evaluate 4
memorization_baselines    1
total                    12

Reasons:
    output files have to be generated: train_ae 1
"""


def test_the_dry_runs_table_gives_the_job_counts():
    assert job_counts(DRY_RUN) == {
        "all": 1, "train_ae": 2, "train_own_ae": 1, "train_ldm": 3,
        "cifar10_resnet18_evaluate": 4, "memorization_baselines": 1,
    }  # fmt: skip
    assert job_counts("Nothing to be done (all requested files are present and up to date).") == {}


def test_earlier_jobs_are_read_from_every_experiments_benchmark_files(tmp_path):
    files = [
        ("x/benchmarks/seed0/base.tsv", 20),
        ("shared/benchmarks/collect-1/seed0/l/collect-8/checkpoints.tsv", 9),
        ("y/benchmarks/seed0/base-run1.tsv", 30),
    ]
    for path, s in files:
        f = tmp_path / path
        f.parent.mkdir(parents=True)
        pd.DataFrame({"s": [s], "max_rss": [1.0]}).to_csv(f, sep="\t", index=False)
    jobs = earlier_jobs(tmp_path).sort_values("s")
    assert jobs.values.tolist() == [
        ["shared/collect-1", "collect_checkpoints", 9],
        ["x", "train_base", 20],
        ["y", "train_run_base", 30],
    ]
    assert rule_of_benchmark("a/ldm-paper/ae.tsv") == "train_ae"


def test_the_estimate_prefers_this_experiments_jobs_and_names_what_it_never_saw():
    jobs = pd.DataFrame(
        [["me", "train_ae", 10.0], ["me", "train_ae", 30.0], ["other", "train_ae", 100.0],
         ["other", "train_ldm", 7.0], ["shared/collect-1", "evaluate", 5.0],
         ["other", "evaluate", 50.0], ["shared/collect-2", "evaluate", 9.0]],
        columns=["experiment", "rule", "s"],
    )  # fmt: skip
    table = estimate(job_counts(DRY_RUN), jobs, {"me", "shared/collect-1"}).set_index("rule")
    assert table.loc["train_ae", "s"] == 2 * 20.0  # the median of this experiment's two
    assert table.loc["train_own_ae", "s_per_job"] == 20.0
    assert "as train_ae" in table.loc["train_own_ae", "from"]
    assert (
        table.loc["train_ldm", "s"] == 21.0
        and "other experiments" in table.loc["train_ldm", "from"]
    )
    assert table.loc["cifar10_resnet18_evaluate", "s"] == 4 * 5.0  # its own shared folder's
    assert table.loc["all", "s"] == 0.0 and table.loc["all", "from"] == "light"
    assert math.isnan(table.loc["memorization_baselines", "s"])
    assert table.loc["memorization_baselines", "from"] == "never measured here"
