"""Fixtures of the unit and workflow tests; helpers they import are in helpers.py."""

import os

import pytest
import torch
from helpers import TINY, copy_run, shared_folder, snakemake

from pdiff.networks import small_cnn
from pdiff.subset import ParameterSubset

# pytest-xdist runs one test per core: a test, and every process it starts, computes on one
# thread (torch's threads on a busy core wait for each other: a 1.5 s test took 37 s).
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


@pytest.fixture
def cnn():
    """A small CNN with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = small_cnn(channels=(4, 8, 8), hidden=16)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.fixture
def last_two_bn(cnn):
    return ParameterSubset.from_model(cnn, ["bn3.*", "bn4.*"])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, worker_id):
    """The tiny experiment's default run (`snakemake --configfile tests/configs/tiny.yaml`),
    built once per session and shared read-only."""
    return shared_folder(
        tmp_path_factory, worker_id, "tiny", lambda d: snakemake(d, "--configfile", str(TINY))
    )


GRID_TARGETS = ("ablations", "memorization", "memorization_by_k")


@pytest.fixture(scope="session")
def tiny_grid(tiny_run, tmp_path_factory, worker_id):
    """The tiny run with its ablation grid (the official generator and its controls
    included, as the denoiser axis's `paper`) and the memorization analyses; shared
    read-only. Returns the results folder and the log of the grid's run."""

    def build(folder):
        copy_run(tiny_run, folder)
        out = snakemake(folder, *GRID_TARGETS, "--configfile", str(TINY), timeout=1500)
        (folder / "grid.log").write_text(out.stdout + out.stderr)
        snakemake(folder, "html_report", "--configfile", str(TINY))  # now with the grid's

    folder = shared_folder(tmp_path_factory, worker_id, "grid", build)
    return folder / "results" / "tiny", (folder / "grid.log").read_text()


# Test modules that read the tiny grid: pytest-xdist gives them to one worker, which builds
# the grid while the other runs the rest. (Our own scope rule, not `--dist loadgroup`,
# whose xdist_group marks pytest 9.2 ignores: pytest-xdist issue 1386.)
GRID_MODULES = ("test_analyses.py", "test_official.py")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class GridOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return "grid" if nodeid.split("::")[0].endswith(GRID_MODULES) else nodeid

    return GridOnOneWorker(config, log)


def pytest_collection_modifyitems(items):
    """The longest chain first (the tiny run and its grid), then the runs of the pipeline
    that do not wait for the tiny run, then those that read it, then the unit tests."""

    def rank(item):
        if item.path.name in GRID_MODULES:
            return 0
        if item.path.parent.name == "workflow":
            return 2 if "tiny_run" in item.fixturenames else 1
        return 3

    items.sort(key=rank)
