"""scripts/readme_tables.py: README tables refreshed from the files runs wrote."""

import importlib.util

from helpers import REPO

spec = importlib.util.spec_from_file_location("readme_tables", REPO / "scripts/readme_tables.py")
readme_tables = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readme_tables)


def test_blocks_take_their_files_content_and_missing_files_are_left(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results/t.md").write_text("| a |\n|---|\n| 2 |\n")
    text = (
        "intro\n<!-- from results/t.md -->\n| a |\n|---|\n| 1 |\n<!-- end -->\n"
        "<!-- from results/none.md -->\nold\n<!-- end -->\n"
    )
    out, changed, missing = readme_tables.refresh(text, tmp_path)
    assert "| 2 |" in out and "| 1 |" not in out and "old" in out
    assert changed == ["results/t.md"] and missing == ["results/none.md"]
    again, changed, _ = readme_tables.refresh(out, tmp_path)
    assert again == out and changed == []


def test_figures_are_copied_from_their_run_and_compared(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "results/a.png").write_bytes(b"new")
    (tmp_path / "docs/a.png").write_bytes(b"old")
    text = (
        "<!-- figure results/a.png -> docs/a.png -->\n<!-- figure results/b.png -> docs/b.png -->"
    )
    assert readme_tables.figures(text, tmp_path, write=False) == (["docs/a.png"], ["results/b.png"])
    assert (tmp_path / "docs/a.png").read_bytes() == b"old"
    readme_tables.figures(text, tmp_path, write=True)
    assert (tmp_path / "docs/a.png").read_bytes() == b"new"
    assert readme_tables.figures(text, tmp_path, write=False) == ([], ["results/b.png"])


def test_every_block_of_the_pages_names_a_results_file():
    blocks = [
        b
        for page in readme_tables.pages(REPO)
        for b in readme_tables.BLOCK.finditer(page.read_text())
    ]
    assert len(blocks) >= 12
    assert all(b["path"].startswith("results/") for b in blocks)
