"""Table arithmetic and the generator's verdict, on evaluation tables written out by hand."""

import pandas as pd
import pytest

from pdiff.reporting import ablation_table, generator_verdict, group_stats, main_table


def _evals(sources, generated, rebuilt, finite=None):
    rows = [("source", a, True) for a in sources] + [("rebuilt", a, True) for a in rebuilt]
    finite = finite or [True] * len(generated)
    rows += [("generated", a, f) for a, f in zip(generated, finite, strict=True)]
    return pd.DataFrame(
        [{"group": g, "index": 0, "finite": f, "val_acc": a, "test_acc": a} for g, a, f in rows]
    )


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
    lines = generator_verdict({0: _evals([90, 90], gen, [87, 87], finite=[True] * 9 + [False])})
    assert len(lines) == 1 and "10%" in lines[0] and "the AE" in lines[0]
    assert "3.00 points" in lines[0]


def test_verdict_per_seed():
    good, bad = _evals([90, 90], [90] * 4, [90, 90]), _evals([90, 90], [80] * 4, [90, 90])
    lines = generator_verdict({0: good, 1: bad})
    assert len(lines) == 1 and "seed 1" in lines[0]


def _table(rows):
    """An evaluation table from (group, val_acc, test_acc, finite) rows."""
    return pd.DataFrame(
        [
            {"group": g, "index": i, "val_acc": v, "test_acc": t, "finite": f}
            for i, (g, v, t, f) in enumerate(rows)
        ]
    )


def test_group_stats_by_hand_with_a_nonfinite_set_excluded():
    evals = _table(
        [
            ("generated", 80, 70, True),
            ("generated", 95, 60, True),
            ("generated", 99, 10, False),
            ("generated", 70, 90, True),
            ("source", 50, 50, True),
        ]
    )
    stats = group_stats(evals, "generated")
    # finite test accuracies 70, 60, 90: best 90, mean 73.33, median 70; the validation
    # choice is the finite set of val 95 (test 60), not the non-finite one of val 99
    assert stats["best"] == 90 and stats["median"] == 70
    assert abs(stats["mean"] - 220 / 3) < 1e-9
    assert stats["val_chosen"] == 60
    assert stats["n"] == 4 and stats["nonfinite"] == 1


def test_main_table_rows_and_mean_over_two_seeds_by_hand():
    seed0 = _table(
        [
            ("source", 90, 88, True),
            ("source", 80, 92, True),
            ("average", 0, 91, True),
            ("rebuilt", 0, 87, True),
            ("generated", 85, 89, True),
            ("generated", 86, 85, True),
        ]
    )
    seed1 = _table(
        [
            ("source", 90, 90, True),
            ("source", 91, 86, True),
            ("average", 0, 89, True),
            ("rebuilt", 0, 89, True),
            ("generated", 70, 91, True),
            ("generated", 99, 0, False),
            ("generated", 71, 87, True),
        ]
    )
    table = main_table({0: seed0, 1: seed1}).set_index("row")
    expected = {  # row: (seed 0, seed 1)
        "source_best": (92, 90),
        "average": (91, 89),
        "generated_best": (89, 91),
        "source_mean": (90, 88),
        "generated_mean": (87, 89),
        "generated_median": (87, 89),
        "source_val_chosen": (88, 86),
        "generated_val_chosen": (85, 87),
        "generated_nonfinite": (0, 1),
        "rebuilt_mean": (87, 89),
    }
    for row, (a, b) in expected.items():
        assert table.loc[row, "seed 0"] == a, row
        assert table.loc[row, "seed 1"] == b, row
        assert table.loc[row, "mean over seeds"] == (a + b) / 2, row


def test_ablation_row_averages_seeds_and_keeps_its_own_sources():
    a0 = _table([("source", 0, 80, True), ("generated", 0, 70, True), ("generated", 0, 74, True)])
    a1 = _table([("source", 0, 84, True), ("generated", 0, 76, True)])
    default = _table([("source", 1, 90, True), ("source", 2, 92, True)])
    table = ablation_table("k", [("8", a0), ("8", a1)], [default]).set_index("k")
    assert table.loc["sources (default)", "best"] == 92
    assert table.loc["sources (default)", "mean"] == 91
    # generated best over seeds: (74 + 76) / 2; mean: (72 + 76) / 2; own sources (80 + 84) / 2
    assert table.loc["8", "best"] == 75 and table.loc["8", "mean"] == 74
    assert table.loc["8", "sources_mean"] == 82 and table.loc["8", "seeds"] == 2


def test_ablation_row_counts_sets_below_their_own_sources():
    # sources mean 80: 79.5 is within 1 point, 78.5 more than 1 below, 77 more than 2 below,
    # a non-finite set counts as below; a second seed with none below halves the shares
    a0 = _table(
        [
            ("source", 0, 80, True),
            ("generated", 0, 79.5, True),
            ("generated", 0, 78.5, True),
            ("generated", 0, 77, True),
            ("generated", 0, 0, False),
        ]
    )
    a1 = _table([("source", 0, 60, True), ("generated", 0, 61, True)])
    table = ablation_table("k", [("8", a0), ("8", a1)], [a0]).set_index("k")
    assert table.loc["8", "pct_1_below"] == (75 + 0) / 2
    assert table.loc["8", "pct_2_below"] == (50 + 0) / 2


def test_every_main_table_row_has_one_id_and_its_own_words():
    from pdiff.reporting import main_table_markdown, row_label

    rows = [("source", i, 90 + i % 2, True) for i in range(4)]
    rows += [(g, i, 85 + i % 3, True) for g in ("generated", "gaussian_full") for i in range(6)]
    rows += [("average", 0, 88, True), ("rebuilt", 0, 89, True)]
    table = main_table({0: _table(rows)})
    labels = table.row.map(row_label)
    assert table.row.is_unique and labels.is_unique
    assert table.row.str.fullmatch(r"[a-z0-9_]+").all()  # ids: no spaces, no words to join on
    assert "control: Gaussian with the sources' full latent covariance, 5th percentile" in set(
        labels
    )
    assert "| p-diff (best generated, chosen on test) " in main_table_markdown(table)
    with pytest.raises(KeyError):
        row_label("no_such_row")
