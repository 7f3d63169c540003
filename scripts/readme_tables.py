#!/usr/bin/env python3
"""Refresh the result tables and figures of README.md and docs/*.md from the files runs wrote.

Each table that comes from a run sits between two markers:

    <!-- from results/fmnist_small_cnn/main_table.md -->
    ...the file's content...
    <!-- end -->

and each figure copied from a run is named on its own line:

    <!-- figure results/.../memorization_scatter.png -> docs/memorization_scatter.png -->

`python scripts/readme_tables.py` writes each named file's current content between its
markers and copies each figure; `--check` only compares and exits 1 where a page or figure
differs from its file (files that do not exist yet are listed and skipped: run the command
named above the table first).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- from (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end -->)", re.S)
FIGURE = re.compile(r"<!-- figure (?P<source>\S+) -> (?P<copy>\S+) -->")


def pages(root: Path) -> list[Path]:
    """The pages that may hold tables from runs."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def refresh(text: str, root: Path) -> tuple[str, list[str], list[str]]:
    """The page text with every block refreshed; the blocks that changed; files missing."""
    changed, missing = [], []

    def replace(m: re.Match) -> str:
        path = root / m["path"]
        if not path.exists():
            missing.append(m["path"])
            return m.group(0)
        body = path.read_text()
        body = body if body.endswith("\n") else body + "\n"
        if body != m["body"]:
            changed.append(m["path"])
        return m.group(1) + body + m.group(4)

    return BLOCK.sub(replace, text), changed, missing


def figures(text: str, root: Path, write: bool) -> tuple[list[str], list[str]]:
    """Copy (or with write=False only compare) every figure a page names; the copies that
    changed; the sources missing."""
    changed, missing = [], []
    for m in FIGURE.finditer(text):
        source, copy = root / m["source"], root / m["copy"]
        if not source.exists():
            missing.append(m["source"])
        elif not copy.exists() or copy.read_bytes() != source.read_bytes():
            changed.append(m["copy"])
            if write:
                shutil.copyfile(source, copy)
    return changed, missing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    args = ap.parse_args()
    differs = False
    for page in pages(REPO):
        text, changed, missing = refresh(page.read_text(), REPO)
        copied, missing_figures = figures(text, REPO, write=not args.check)
        for path in missing + missing_figures:
            print(f"{page.relative_to(REPO)}: not yet made (run its command first): {path}")
        for path in changed + copied:
            print(f"{page.relative_to(REPO)}: {'differs' if args.check else 'refreshed'}: {path}")
        differs = differs or bool(changed or copied)
        if not args.check:
            page.write_text(text)
    if args.check:
        sys.exit(1 if differs else 0)


if __name__ == "__main__":
    main()
