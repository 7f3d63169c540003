"""Where and how a stage runs: device, threads, seeds, determinism, logging."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sys

import torch


def setup(seed: int, threads: int = 1, device: str = "auto") -> torch.device:
    """Seed every generator, set thread count and deterministic kernels; return the device."""
    torch.set_num_threads(max(1, int(threads)))
    random.seed(seed)
    torch.manual_seed(seed)
    # Deterministic kernels make CPU runs byte-identical; on CUDA they need this workspace.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    return pick_device(device)


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when present (or asked for), the CPU otherwise."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' was asked for but CUDA is not available; "
                           "set device: auto or cpu in the config")
    return torch.device(device)


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
def output_to(log_file: str | None):
    """Send stdout and stderr (logs, progress bars) to a rule's log file; an error that ends
    the stage is written there too (Snakemake also prints it)."""
    if not log_file:
        yield
        return
    with open(log_file, "w") as f, contextlib.redirect_stderr(f), contextlib.redirect_stdout(f):
        try:
            yield
        except Exception as e:
            print(f"ERROR: {type(e).__name__}: {e}", file=f)
            raise
