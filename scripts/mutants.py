"""Science bugs injected one at a time into a scratch copy of the project, and the tests that
catch each: a check that the suite fails when the science breaks.

    python scripts/mutants.py                  # every mutant against the whole suite
    python scripts/mutants.py --list           # the mutants, one line each
    python scripts/mutants.py seed zero-noise  # some of them
    python scripts/mutants.py --tests tests/unit ...   # against a part of the suite

Each mutant is one exact replacement in one file; one that no longer applies (the code
moved) is reported as such, not counted as caught. The unit tests run first and the whole
suite (`make test`'s) only for a mutant they miss, with `-x`, so a mutant costs little once
a test catches it. Prints a table: mutant, caught or MISSED, the tests
that failed, seconds; exits non-zero when a mutant is missed or does not apply.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    file: str
    old: str
    new: str


MUTANTS = [
    Mutant(
        "seed",
        "the sampler ignores its seed",
        "pdiff/diffusion.py",
        "g = torch.Generator().manual_seed(seed)\n    denoiser.to(device).eval()",
        "g = torch.Generator().manual_seed(0)\n    denoiser.to(device).eval()",
    ),
    Mutant(
        "seed-ignored",
        "every stage seeds torch with 0, whatever its seed",
        "pdiff/runtime.py",
        "    torch.manual_seed(seed)\n",
        "    torch.manual_seed(0)\n",
    ),
    Mutant(
        "latents-unnormalized",
        "the DDPM trained on raw latents, sampled as if on normalized ones",
        "pdiff/generator.py",
        "        (latents - mean) / std,\n        scheduler(m),",
        "        latents,\n        scheduler(m),",
    ),
    Mutant(
        "zero-noise",
        "the denoiser's prediction is replaced by zero noise when sampling",
        "pdiff/diffusion.py",
        "out = denoiser(x.to(device), t.to(device)).cpu()",
        "out = torch.zeros_like(x)",
    ),
    Mutant(
        "wrong-step",
        "the denoiser is told the wrong step (half of it) when sampling",
        "pdiff/diffusion.py",
        "out = denoiser(x.to(device), t.to(device)).cpu()",
        "out = denoiser(x.to(device), (t // 2).to(device)).cpu()",
    ),
    Mutant(
        "global-latent-std",
        "latents de-normalized with one global std, not their own per-coordinate one",
        "pdiff/generator.py",
        "latents = latents * ldm.latent_std + ldm.latent_mean",
        "latents = latents * ldm.latent_std.mean() + ldm.latent_mean",
    ),
    Mutant(
        "rows-own-stats",
        "generated rows de-normalized with their own statistics, not the sources'",
        "pdiff/generator.py",
        "return rows * std + mean, latents",
        "return rows * rows.std(0) + rows.mean(0), latents",
    ),
    Mutant(
        "decoder-ignores-latent",
        "the decoder is given zeros instead of its latent",
        "pdiff/generator.py",
        "rows = ae.to(device).decode(latents.to(device)).cpu()",
        "rows = ae.to(device).decode(torch.zeros_like(latents).to(device)).cpu()",
    ),
    Mutant(
        "ensemble-of-one",
        "the weight average is one source",
        "pdiff/evaluation.py",
        "return matrix.mean(dim=0, keepdim=True)",
        "return matrix[:1].clone()",
    ),
    Mutant(
        "average-with-repeats",
        "the average-of-n baseline may average a source with itself",
        "pdiff/memorization.py",
        "sources[torch.randperm(len(sources), generator=g)[:of]].mean(0)",
        "sources[torch.randint(len(sources), (of,), generator=g)].mean(0)",
    ),
    Mutant(
        "gaussian-unit-std",
        "the coordinate Gaussian baseline ignores the sources' spread",
        "pdiff/memorization.py",
        "return mean + std * torch.randn((repeats, sources.shape[1]), generator=g)",
        "return mean + torch.randn((repeats, sources.shape[1]), generator=g)",
    ),
    Mutant(
        "control-prior",
        "the full-covariance Gaussian control ignores the sources' latents (N(0, I))",
        "pdiff/controls.py",
        "draws = mean + eps @ (flat - mean) / max(len(flat) - 1, 1) ** 0.5",
        "draws = torch.randn((n, flat.shape[1]), generator=g)",
    ),
    Mutant(
        "novelty-self",
        "the novelty check compares a set with itself",
        "pdiff/memorization.py",
        "s = wrong_prediction_iou(preds[name][ok], src_preds, labels)",
        "s = wrong_prediction_iou(preds[name][ok], preds[name][ok], labels)",
    ),
    Mutant(
        "self-similarity",
        "a source's highest similarity to the other sources includes itself",
        "pdiff/memorization.py",
        "sim[ok] = max_similarity(s, exclude_self=is_src)",
        "sim[ok] = max_similarity(s, exclude_self=False)",
    ),
    Mutant(
        "val-as-test",
        "validation accuracy reported as test accuracy",
        "pdiff/evaluation.py",
        '"test_acc": res[g, "test"][0].tolist(),',
        '"test_acc": res[g, "val"][0].tolist(),',
    ),
    Mutant(
        "chosen-on-test",
        "the validation-chosen model chosen on the test split",
        "pdiff/reporting.py",
        'val_chosen = ok.loc[ok["val_acc"].idxmax(), "test_acc"]',
        'val_chosen = ok.loc[ok["test_acc"].idxmax(), "test_acc"]',
    ),
    Mutant(
        "rebuilt-are-sources",
        "the AE-rebuilt rows replaced by the sources",
        "pdiff/evaluation.py",
        "rebuilt_rows = matrix.denormalize(ae(normalized[picked]))",
        "rebuilt_rows = matrix.rows[picked].clone()",
    ),
    Mutant(
        "stem-pool-window",
        "whole networks' first max-pool taken over the wrong pixels (rows and columns swapped)",
        "pdiff/evaluation.py",
        "return cols.permute(1, 3, 5, 0, 2, 4).reshape(cols.shape[1], 4, len(x), hp, wp)",
        "return cols.permute(1, 3, 5, 0, 4, 2).reshape(cols.shape[1], 4, len(x), hp, wp)",
    ),
]


def scratch_copy(dest: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored files)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def run(mutant: Mutant, phases: list[list[str]], timeout: int) -> tuple[str, list[str], float]:
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        root = Path(tmp)
        scratch_copy(root)
        path = root / mutant.file
        text = path.read_text()
        if text.count(mutant.old) != 1:
            return "does not apply", [], 0.0
        path.write_text(text.replace(mutant.old, mutant.new))
        # the copy's pdiff first, in pytest and in every Snakemake job it starts
        env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        start = time.time()
        for tests in phases:
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                return "timed out", [], time.time() - start
            failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
            # with -x, pytest-xdist stops the workers and exits 2 after the first failure
            if proc.returncode == 1 or (proc.returncode == 2 and failed):
                return "caught", failed, time.time() - start
            if proc.returncode != 0:  # a collection error, an interrupt: not a catch
                return f"pytest exit {proc.returncode}", failed, time.time() - start
        return "MISSED", [], time.time() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("names", nargs="*", help="mutants to run (default: all)")
    p.add_argument(
        "--tests", nargs="+", help="pytest arguments (default: tests/unit, then the suite)"
    )
    p.add_argument("--timeout", type=int, default=1200, help="seconds per mutant")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = p.parse_args()
    known = {m.name: m for m in MUTANTS}
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:24s} {m.file:24s} {m.what}")
        return 0
    unknown = [n for n in args.names if n not in known]
    if unknown:
        p.error(f"unknown mutant(s) {unknown}; `--list` names them")
    chosen = [known[n] for n in args.names] or MUTANTS
    missed = 0
    print(f"{'mutant':24s} {'result':14s} {'s':>5s}  failing tests")
    for m in chosen:
        phases = [args.tests] if args.tests else [["tests/unit"], []]
        verdict, failed, seconds = run(m, phases, args.timeout)
        missed += verdict != "caught"
        print(f"{m.name:24s} {verdict:14s} {seconds:5.0f}  {' '.join(failed) or '-'}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
