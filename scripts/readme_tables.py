#!/usr/bin/env python3
"""Refresh the README's result tables from the files that runs wrote.

Each table in README.md that comes from a run sits between two markers:

    <!-- from results/fmnist_small_cnn/main_table.md -->
    ...the file's content...
    <!-- end -->

`python scripts/readme_tables.py` writes each named file's current content between its
markers; `--check` only compares and exits 1 where the README differs from a file (files
that do not exist yet are listed and skipped: run the command named above the table first).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- from (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end -->)", re.S)


def refresh(text: str, root: Path) -> tuple[str, list[str], list[str]]:
    """The README text with every block refreshed; the blocks that changed; files missing."""
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    ap.add_argument("--readme", default=str(REPO / "README.md"))
    args = ap.parse_args()
    readme = Path(args.readme)
    text, changed, missing = refresh(readme.read_text(), REPO)
    for path in missing:
        print(f"not yet made (run its command first): {path}")
    for path in changed:
        print(f"{'differs' if args.check else 'refreshed'}: {path}")
    if args.check:
        sys.exit(1 if changed else 0)
    readme.write_text(text)


if __name__ == "__main__":
    main()
