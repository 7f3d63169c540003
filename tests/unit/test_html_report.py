import base64
import re

from pdiff.html_report import html_report, markdown_to_html

TABLE = """Variant x: data d

| row           |   seed 0 |
|:--------------|---------:|
| generated `mean` |    90.71 |
| sets with NaN |     nan |

GENERATOR LOST on seed 0: generated mean 90.71 vs 90.80.
Second line of it.
"""


def test_markdown_tables_become_html_tables_with_numbers_and_verdicts():
    out = markdown_to_html(TABLE)
    assert "<p>Variant x: data d</p>" in out
    assert "<th>row</th><th>seed 0</th>" in out
    assert '<td>generated <code>mean</code></td><td class="number">90.71</td>' in out
    assert '<td class="number">nan</td>' in out
    assert ":---" not in out  # the alignment row is not a row
    assert '<p class="verdict">GENERATOR LOST on seed 0: generated mean 90.71 vs 90.80. ' in out
    assert out.count("<table>") == 1 and out.count("<tr>") == 3


def test_a_page_embeds_its_plots_links_every_label_and_leaves_empty_sections_out(tmp_path):
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    md = tmp_path / "t.md"
    md.write_text(TABLE)
    page = html_report(
        "pdiff: x",
        {
            "Main table": {"caption": "What <it> shows.", "files": [["main table", str(md)]]},
            "Ablations": {"caption": "never shown", "files": []},
            "Memorization": {"caption": None, "files": [["seed 0: scatter", str(png)]]},
        },
    )
    assert "Ablations" not in page and "never shown" not in page
    assert "What &lt;it&gt; shows." in page
    links = re.findall(r'href="#([^"]+)"', page)
    ids = re.findall(r'id="([^"]+)"', page)
    assert len(links) == 4 and sorted(links) == sorted(ids)
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(data) == png.read_bytes()
    assert page.index("Main table") < page.index("Memorization")
