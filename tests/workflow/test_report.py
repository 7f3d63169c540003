"""The HTML report of `snakemake` (results/<experiment>/report.html), as a browser shows it."""

import os
import re
import warnings
from html import unescape

import pandas as pd
import pytest
from helpers import BROWSER, rendered_dom


@pytest.mark.slow
def test_the_report_shows_the_main_table_and_verdict_in_headless_chromium(tiny_run):
    """Without Chromium (`make browser` installs it on Debian) the same checks read the file
    as written, unless PDIFF_BROWSER_TEST=required (CI) makes that a failure."""
    res = tiny_run / "results" / "tiny"
    if BROWSER is None:
        assert os.environ.get("PDIFF_BROWSER_TEST") != "required", "no chromium: make browser"
        warnings.warn("no chromium: the report is checked as written, not rendered", stacklevel=1)
        dom = (res / "report.html").read_text()
    else:
        dom = rendered_dom(res / "report.html")
    cells = [unescape(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", dom, re.S)]
    table = pd.read_csv(res / "main_table.csv").set_index("row")
    for row, value in table["seed 0"].items():
        assert f"{value:.2f}" in cells, row
    assert "generated mean" in cells and "original (best source, chosen on test)" in cells
    verdict = (res / "main_table.md").read_text().strip().splitlines()[-1]
    assert re.search(r'<p class="verdict">', dom) and verdict.split(":")[0] in dom
    links = re.findall(r'<a class="[a-z]+" href="#([^"]+)"', dom)
    assert links and all(f'id="{anchor}"' in dom for anchor in links)
    assert "data:text/csv" not in dom  # the tables are on the page, not behind a download
