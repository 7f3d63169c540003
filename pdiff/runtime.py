"""Where and how a stage runs: device, GPU claim, precision, threads, seeds, logging."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch

GPU_LOCK_DIR_ENV = "PDIFF_GPU_LOCK_DIR"
JOBS_PER_GPU_ENV = "PDIFF_JOBS_PER_GPU"
# This process's GPU claim: its lock must stay held until the process ends.
_claim: GpuClaim | None = None


def setup(
    seed: int, threads: int = 1, device: str = "auto", precision: str = "fp32"
) -> torch.device:
    """Seed every generator, set thread count and deterministic kernels; return the device."""
    torch.set_num_threads(max(1, int(threads)))
    random.seed(seed)
    torch.manual_seed(seed)
    # Deterministic kernels make CPU runs byte-identical; on CUDA they need this workspace.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    picked = pick_device(device)
    if precision == "bf16" and picked.type != "cuda":
        get_logger("runtime").info(f"precision bf16 applies on CUDA only; {picked} runs fp32")
    get_logger("runtime").info(f"device {picked}, {torch.get_num_threads()} threads, seed {seed}")
    age = process_age()
    if age is not None:
        get_logger("runtime").info(f"start-up {age:.2f} s (process start to this stage's work)")
    return picked


def process_age() -> float | None:
    """Seconds since this process started (Linux's /proc; None elsewhere): a stage's start-up,
    mostly imports, when called as its work begins."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when present (or asked for), the CPU otherwise. With several GPUs visible and no
    index given, the GPU is one that no other pdiff process holds (see claim_gpu)."""
    if device == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device '{device}' was asked for but CUDA is not available; "
            "set device: auto or cpu in the config"
        )
    if device in ("auto", "cuda") and torch.cuda.device_count() > 1:
        return torch.device("cuda", _process_gpu(torch.cuda.device_count()))
    return torch.device("cuda" if device == "auto" else device)


@dataclass
class GpuClaim:
    """One GPU held by this process: the GPU's position among the visible ones, and the
    open lock file (the lock lasts while it is open)."""

    index: int
    lock: IO

    def release(self) -> None:
        self.lock.close()


def gpu_lock_dir() -> Path:
    """Where the per-GPU lock files live: $PDIFF_GPU_LOCK_DIR, else a folder in $TMPDIR."""
    return Path(os.environ.get(GPU_LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "pdiff-gpu-locks")


def visible_gpu_ids(count: int) -> list[str]:
    """Names of the visible GPUs as the driver knows them, so that processes that see
    different CUDA_VISIBLE_DEVICES lists still lock the same physical GPU under one name."""
    listed = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return listed[:count] if len(listed) >= count else [str(i) for i in range(count)]


def jobs_per_gpu() -> int:
    """How many jobs may share one GPU: $PDIFF_JOBS_PER_GPU (default 1). Small stages leave a
    GPU mostly idle, so several side by side finish sooner (profiles/gpu says how to set it)."""
    value = os.environ.get(JOBS_PER_GPU_ENV, "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{JOBS_PER_GPU_ENV}={value!r}: give a whole number of jobs, 1 or more")
    return int(value)


def claim_gpu(
    ids: list[str],
    lock_dir: Path | None = None,
    timeout: float | None = None,
    poll: float = 1.0,
    per_gpu: int | None = None,
) -> GpuClaim:
    """Claim a free slot on one of the GPUs `ids`, `per_gpu` slots each (default
    jobs_per_gpu()): a lock file per slot held with an exclusive flock, which the kernel drops
    when the holder exits, so a crashed job frees its slot. Slots are filled across GPUs
    first (the first slot of every GPU, then the second), so jobs spread evenly. When all are
    held, wait for one (Snakemake's `gpu` resource normally prevents that); after `timeout`
    seconds, raise."""
    lock_dir = lock_dir or gpu_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    per_gpu = per_gpu or jobs_per_gpu()
    start, told = time.monotonic(), False
    while True:
        for slot in range(per_gpu):
            for index, gpu in enumerate(ids):
                name = f"gpu-{gpu}.lock" if slot == 0 else f"gpu-{gpu}-slot{slot}.lock"
                f = open(lock_dir / name, "a")
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    f.close()
                    continue
                return GpuClaim(index, f)
        if timeout is not None and time.monotonic() - start >= timeout:
            raise RuntimeError(
                f"all {len(ids)} GPUs are held by other processes ({per_gpu} job(s) each; lock "
                f"files in {lock_dir}); set `resources: gpu` in the profile to at most the GPUs "
                f"times {JOBS_PER_GPU_ENV}, or give each run its own {GPU_LOCK_DIR_ENV} if they "
                "use different GPUs"
            )
        if not told:
            get_logger("runtime").info(
                f"all {len(ids)} GPUs are held (locks in {lock_dir}); waiting for one"
            )
            told = True
        time.sleep(poll)


def _process_gpu(count: int) -> int:
    """This process's GPU among `count` visible ones, claimed on first use."""
    global _claim
    if _claim is None:
        _claim = claim_gpu(visible_gpu_ids(count))
        torch.cuda.set_device(_claim.index)
        get_logger("runtime").info(f"claimed GPU cuda:{_claim.index} of {count}")
    return _claim.index


def autocast(device: torch.device, precision: str = "fp32"):
    """The context for a network's forward: bf16 autocast on CUDA when asked for, plain fp32
    otherwise (on the CPU bf16 is ignored, so CPU results do not depend on it)."""
    if precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def generator(seed: int) -> torch.Generator:
    """A CPU generator: random draws do not depend on the device that uses them."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def get_logger(name: str) -> logging.Logger:
    """A logger that writes to (the current) stderr."""
    logger = logging.getLogger(f"pdiff.{name}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.propagate = False
    return logger


@contextlib.contextmanager
def output_to(log_file: str | None, resumes: str | None = None):
    """Send stdout and stderr (logs, progress bars) to a rule's log file; an error that ends
    the stage is written there too (Snakemake also prints it). The terminal gets where the
    log is and, every few seconds while a stage trains or samples, its progress line (steps,
    rate, time left). `resumes`: the output of a stage that keeps a Resume state; when a
    stopped run left one, the log goes on after the stopped run's instead of replacing it."""
    if not log_file:
        yield
        return
    terminal = sys.stderr
    print(f"log: {log_file}", file=terminal, flush=True)
    goes_on = resumes is not None and Resume.path_of(resumes).exists()
    with open(log_file, "a" if goes_on else "w") as raw:
        f = _Lines(raw, echo=terminal, label=Path(log_file).stem)
        with contextlib.redirect_stderr(f), contextlib.redirect_stdout(f):
            try:
                yield
            except Exception as e:
                print(f"ERROR: {type(e).__name__}: {e}", file=f)
                raise


class _Lines:
    """A log file that takes a progress bar's carriage returns as line ends, so the file
    reads as one line per update instead of raw control characters."""

    def __init__(self, f: IO[str], echo: IO[str] | None = None, label: str = ""):
        self._f, self._echo, self._label = f, echo, label
        self._at_line_start = True

    def write(self, text: str) -> int:
        if self._echo is not None and "%|" in text:  # a tqdm progress line
            self._echo.write(f"  {self._label}: {text.strip()}\n")
            self._echo.flush()
        out = text.replace("\r", "\n")
        while "\n\n" in out:
            out = out.replace("\n\n", "\n")
        if self._at_line_start and out.startswith("\n"):
            out = out[1:]
        if out:
            self._f.write(out)
            self._at_line_start = out.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self._f.flush()

    def isatty(self) -> bool:
        return False


def descendants(pid: int) -> list[int]:
    """Every process started by `pid`, directly or not (from `ps`, on Linux and macOS)."""
    import subprocess

    table = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for line in table.stdout.splitlines():
        child, parent = (int(v) for v in line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_jobs_on_interrupt() -> None:
    """Make one SIGINT to Snakemake (Ctrl-C, or `kill -INT` to snakemake alone) stop the jobs
    it runs at once: Snakemake itself only stops scheduling and waits for running jobs to end,
    so a long stage would go on for minutes. The handler passes the SIGINT on to every process
    Snakemake started (a stage stops within its current step, its partial outputs removed by
    Snakemake as for any failed job), then lets Snakemake handle it as before."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum, frame):
        for pid in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)


RESUME_ENV = "PDIFF_RESUME_SECONDS"


class Resume:
    """A training stage's state, kept beside its output (`<output>.resume`) so that a run
    stopped in the middle (Ctrl-C, a lost node) continues where it was. Saved after every
    tenth of the steps, and every `PDIFF_RESUME_SECONDS` seconds in between (default 30;
    0: every step), so a rerun loses at most a tenth of them; read back only by a rerun
    with the same `fingerprint` (settings and inputs); removed when the stage ends. The state
    holds everything the steps draw on (weights, optimizer, schedule, random generator), so
    the result is the same, bit for bit on a CPU, whether the run was stopped or not."""

    def __init__(self, output: str | os.PathLike, fingerprint: dict, log=print):
        self.path = self.path_of(output)
        self.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
        self.every = float(os.environ.get(RESUME_ENV, "30"))
        self.extra: dict = {}  # saved with every state (e.g. a check that ran before training)
        self._log, self._last, self._last_step = log, time.monotonic(), 0
        self._state: dict | None = None
        self.stopping = False  # a SIGINT came inside between_steps
        if self.path.exists():
            try:
                state = torch.load(self.path, weights_only=True)
            except Exception as e:  # a torn or foreign file: start over
                log(f"ignoring {self.path} ({type(e).__name__}: {e}); starting over")
            else:
                if state.get("fingerprint") == self.fingerprint:
                    self._state = state
                    self.extra = state.get("extra", {})
                else:
                    log(f"ignoring {self.path}: written for other settings or inputs")

    @staticmethod
    def path_of(output: str | os.PathLike) -> Path:
        """Where the state of the stage that makes `output` is kept."""
        return Path(f"{output}.resume")

    def state(self) -> dict | None:
        """The saved state of a stopped run of the same stage and settings, if any."""
        return self._state

    def due(self, step: int, steps: int) -> bool:
        """Whether to keep the state after `step` of `steps`."""
        share = step - self._last_step >= steps / 10
        return share or time.monotonic() - self._last >= self.every

    def save(self, state: dict) -> None:
        from pdiff.io import atomic_path

        with atomic_path(self.path) as tmp:
            torch.save({**state, "fingerprint": self.fingerprint, "extra": self.extra}, tmp)
        self._last = time.monotonic()

    def take_up(self, parts: dict, g: torch.Generator) -> tuple[list[dict], int]:
        """(history, first step) of a training loop: the stopped run's, its state restored
        into `parts` (name: object with load_state_dict) and the generator; or a fresh start."""
        state = self._state
        if state is None:
            return [], 1
        for name, part in parts.items():
            part.load_state_dict(state[name])
        g.set_state(state["generator"])
        self._last_step = state["step"]
        self._log(f"resumed at step {state['step'] + 1} from {self.path}")
        return list(state["history"]), state["step"] + 1

    @contextlib.contextmanager
    def between_steps(self):
        """Around a training loop: a SIGINT (Ctrl-C) ends it after the step it lands in, with
        that step's state kept (after_step), so a rerun loses no step; elsewhere, SIGINT is
        as it was."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def stop(signum, frame):
            self.stopping = True

        self.stopping = False
        signal.signal(signal.SIGINT, stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def after_step(
        self, parts: dict, g: torch.Generator, history: list[dict], step: int, steps: int
    ) -> None:
        """Keep the state after `step` of `steps` when it is due or a SIGINT came (then stop
        with KeyboardInterrupt)."""
        if step < steps and (self.stopping or self.due(step, steps)):
            self.keep(parts, g, history, step)
        if self.stopping:
            self._log(f"stopped by SIGINT after step {step}; its state is in {self.path}")
            raise KeyboardInterrupt

    def keep(self, parts: dict, g: torch.Generator, history: list[dict], step: int) -> None:
        """Save the state after `step`."""
        self._last_step = step
        self.save(
            {
                **{name: part.state_dict() for name, part in parts.items()},
                "generator": g.get_state(),
                "history": history,
                "step": step,
            }
        )

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


def tensor_digest(t: torch.Tensor) -> str:
    """A fingerprint of a tensor's values."""
    import hashlib

    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


HOLD_ENV = "PDIFF_TEST_HOLD"


def hold_if_asked(stage: str) -> None:
    """For tests that kill a run mid-stage: with PDIFF_TEST_HOLD=<stage>:<file>, `stage`
    creates <file> once it has started and then waits (at most 10 minutes) to be killed,
    so the kill lands inside the stage whatever the machine's speed."""
    asked, _, marker = os.environ.get(HOLD_ENV, "").partition(":")
    if asked != stage or not marker:
        return
    Path(marker).touch()
    time.sleep(600)
