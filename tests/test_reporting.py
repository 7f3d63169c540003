"""Table arithmetic and the generator's verdict, on evaluation tables written out by hand."""

import pandas as pd

from pdiff.reporting import generator_verdict


def _evals(sources, generated, rebuilt, finite=None):
    rows = [("source", a, True) for a in sources] + [("rebuilt", a, True) for a in rebuilt]
    finite = finite or [True] * len(generated)
    rows += [("generated", a, f) for a, f in zip(generated, finite, strict=True)]
    return pd.DataFrame([{"group": g, "index": 0, "finite": f, "val_acc": a, "test_acc": a}
                         for g, a, f in rows])


def test_no_verdict_when_the_generator_holds_up():
    # sources mean 90; generated mean 89.5 (0.5 below), none more than 2 below
    evals = _evals([89, 91], [89, 90, 89.5, 89.5], [90, 90])
    assert generator_verdict({0: evals}) == []


def test_verdict_on_a_low_mean_names_the_diffusion():
    # generated mean 88.5, 1.5 points below the sources' 90; the AE rebuilds at 90
    lines = generator_verdict({0: _evals([89, 91], [88.5] * 4, [90, 90])})
    assert len(lines) == 1
    assert "seed 0" in lines[0] and "88.50 vs sources mean 90.00 (1.50 points below)" in lines[0]
    assert "latent diffusion" in lines[0]


def test_verdict_on_collapse_of_a_few_sets():
    # mean 89.4 (0.6 below, fine) but 1 of 10 sets (10% > 5%) is 6 points below
    gen = [90.0] * 9 + [84.0]
    lines = generator_verdict({3: _evals([90, 90], gen, [90, 90])})
    assert len(lines) == 1 and "seed 3" in lines[0] and "10% of generated sets" in lines[0]


def test_verdict_counts_nonfinite_sets_as_collapsed_and_blames_a_weak_ae():
    gen = [90.0] * 9 + [float("nan")]
    lines = generator_verdict({0: _evals([90, 90], gen, [87, 87],
                                         finite=[True] * 9 + [False])})
    assert len(lines) == 1 and "10%" in lines[0] and "the AE" in lines[0]
    assert "3.00 points" in lines[0]


def test_verdict_per_seed():
    good, bad = _evals([90, 90], [90] * 4, [90, 90]), _evals([90, 90], [80] * 4, [90, 90])
    lines = generator_verdict({0: good, 1: bad})
    assert len(lines) == 1 and "seed 1" in lines[0]
