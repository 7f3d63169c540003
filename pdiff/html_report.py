"""The experiment's report as one HTML page a browser shows as it is: every table made so far
as an HTML table (the rounded values of its Markdown file, with its verdict lines), every
plot embedded, a caption per section and a sidebar of short labels.

Snakemake's own report (`snakemake results_so_far --report report.html`) stays the record of
provenance (rules, code, timings); this page is for reading the results.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

STYLE = """
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: #222; }
nav { position: fixed; top: 0; bottom: 0; left: 0; width: 13em; overflow-y: auto;
      padding: 1em; background: #f4f4f6; border-right: 1px solid #ddd; font-size: 14px; }
nav a { display: block; color: #245; text-decoration: none; padding: 0.1em 0; }
nav a.section { font-weight: 600; margin-top: 0.8em; }
nav a.item { padding-left: 0.8em; }
main { margin-left: 15em; padding: 1em 2em 4em; max-width: 70em; }
div.wide { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
th { background: #eef; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
p.caption { color: #555; max-width: 50em; }
p.verdict { font-weight: 600; max-width: 60em; }
img { max-width: 100%; }
figure { margin: 0.5em 0 1.5em; }
"""

_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+|nan|inf)%?$", re.IGNORECASE)
_VERDICT = re.compile(r"^[A-Z][A-Z0-9 /-]{5,}")  # a line that opens with capitals: a verdict


def _inline(text: str) -> str:
    """Escaped text with Markdown's `code` and **bold**."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    head, body = _cells(lines[0]), [_cells(ln) for ln in lines[2:]]
    rows = ["<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
    for cells in body:
        tds = (
            f'<td class="number">{_inline(c)}</td>'
            if _NUMBER.match(c)
            else f"<td>{_inline(c)}</td>"
            for c in cells
        )
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return '<div class="wide">\n<table>\n' + "\n".join(rows) + "\n</table>\n</div>"


def markdown_to_html(text: str) -> str:
    """The Markdown pdiff writes (pipe tables, headings, paragraphs) as HTML."""
    out, block = [], []

    def flush():
        if not block:
            return
        if block[0].lstrip().startswith("|") and len(block) > 1:
            out.append(_table(block))
        elif block[0].startswith("#"):
            level = min(len(block[0]) - len(block[0].lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{_inline(block[0].lstrip('#').strip())}</h{level}>")
            if block[1:]:
                out.append(f"<p>{_inline(' '.join(block[1:]))}</p>")
        else:
            kind = ' class="verdict"' if _VERDICT.match(block[0]) else ""
            out.append(f"<p{kind}>{_inline(' '.join(block))}</p>")
        block.clear()

    for line in text.splitlines():
        is_table = line.lstrip().startswith("|")
        if not line.strip() or (block and is_table != block[0].lstrip().startswith("|")):
            flush()
        if line.strip():
            block.append(line)
    flush()
    return "\n".join(out)


def _anchor(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", " ".join(parts).lower()).strip("-")


def _figure(path: Path) -> str:
    if path.suffix == ".png":
        data = base64.b64encode(path.read_bytes()).decode()
        alt = html.escape(path.name)
        return f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"></figure>'
    if path.suffix == ".md":
        return markdown_to_html(path.read_text())
    raise ValueError(f"{path}: the report shows .md tables and .png plots only")


def html_report(title: str, sections: dict[str, dict]) -> str:
    """One self-contained HTML page: `sections` maps each section's title to its `caption`
    (text, or None) and its `files`, a list of [short label, .md or .png path]; a section
    without files is left out."""
    nav, body = [], [f"<h1>{html.escape(title)}</h1>"]
    for name, section in sections.items():
        if not section["files"]:
            continue
        anchor = _anchor(name)
        nav.append(f'<a class="section" href="#{anchor}">{html.escape(name)}</a>')
        body.append(f'<h2 id="{anchor}">{html.escape(name)}</h2>')
        if section.get("caption"):
            body.append(f'<p class="caption">{_inline(section["caption"])}</p>')
        for label, path in section["files"]:
            item = _anchor(name, label)
            nav.append(f'<a class="item" href="#{item}">{html.escape(label)}</a>')
            body.append(f'<h3 id="{item}">{html.escape(label)}</h3>')
            body.append(f'<p class="caption"><code>{html.escape(str(path))}</code></p>')
            body.append(_figure(Path(path)))
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        "<nav>\n" + "\n".join(nav) + "\n</nav>\n<main>\n" + "\n".join(body) + "\n</main>\n"
        "</body>\n</html>\n"
    )
