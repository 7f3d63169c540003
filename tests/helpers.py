"""What the tests share: the repository, the tiny experiment, a Snakemake runner and runs
built once per test session (shared by pytest-xdist's workers)."""

import shutil
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
# One core per Snakemake run: pytest-xdist runs one test per core, and a run's bytes depend
# on its thread count, so every run that is compared with another uses the same.
CORES = "1"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def snakemake(workdir, *args, check=True, env=None, timeout=900):
    """Snakemake in `workdir`; a run that hangs fails the test after `timeout` seconds."""
    proc = subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), "--cores", CORES, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-5000:])
    return proc


def shared_folder(tmp_path_factory, worker_id, name, build):
    """A folder `build(folder)` fills once per test session, whichever worker asks first;
    the others wait for it. Tests read it and never change it (they copy it to change it)."""
    if worker_id == "master":  # no xdist: this process is the session
        folder = tmp_path_factory.getbasetemp() / name
    else:  # xdist: the workers' base folders share this parent, fresh per session
        folder = tmp_path_factory.getbasetemp().parent / name
    with FileLock(f"{folder}.lock"):
        done = folder / ".built"
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def copy_run(run, dest):
    """A writable copy of a shared run (Snakemake's metadata included, so nothing reruns)."""
    shutil.copytree(run, dest, symlinks=True, dirs_exist_ok=True)
    return dest


def shared(workdir, kind, path=""):
    """`path` in the one folder of results/shared/ (data, base or collect) of the run in
    `workdir`: stages that experiments share live there, named by their settings' digest."""
    folders = sorted((Path(workdir) / "results" / "shared").glob(f"{kind}-*"))
    assert len(folders) == 1, f"one shared {kind} folder expected, found {folders}"
    return folders[0] / path


# The report's test loads it in headless Chromium (`make browser` installs it on Debian).
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("chrome")


def rendered_dom(page: Path) -> str:
    """The page's DOM as headless Chromium renders it (--dump-dom)."""
    proc = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-3000:]
    return proc.stdout
