"""Smoke test of the benchmark at tiny size: it runs and prints its ratios (no timing asserts)."""

import subprocess
import sys

from helpers import REPO


def test_benchmark_runs_at_tiny_size():
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench.py"), "--tiny", "--only", "eval", "large"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "evaluation speed-up (plain / fast)" in out
    claims = [line for line in out.splitlines() if "identical predictions:" in line]
    assert len(claims) >= 2 and all(
        line.endswith("identical predictions: True") for line in claims
    ), claims
    assert "peak memory of AE+LDM training" in out
