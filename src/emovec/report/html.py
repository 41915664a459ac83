"""A self-contained HTML report: figures embedded as data URIs, tables, settings and provenance."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .5em;
text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}.note{color:#555;font-size:.9em}
.wide{overflow-x:auto;max-width:100%}
details{margin:1em 0}summary{cursor:pointer;font-weight:600}dl.glossary{font-size:.82em;color:#444}
dl.glossary dt{font-family:monospace;float:left;clear:left;width:15em}dl.glossary dd{margin-left:16em}
.summary li{margin:.3em 0}
"""


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"data:image/png;base64,{data}"


def table_html(table: pd.DataFrame, columns: list[str] | None = None, digits: int = 3) -> str:
    shown = table[[c for c in (columns or table.columns) if c in table.columns]]
    return shown.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, na_rep="-")


def glossary_html(entries: dict[str, str], columns: list[str] | None = None) -> str:
    """A definition list of column names (those in ``columns`` when given)."""
    names = [c for c in (columns or entries) if c in entries]
    items = "".join(f"<dt>{html.escape(c)}</dt><dd>{html.escape(entries[c])}</dd>" for c in names)
    return f"<dl class='glossary'>{items}</dl>" if items else ""


def write_report(
    out: str | Path,
    *,
    title: str,
    intro: str,
    figures: list[tuple[Path, str]],
    tables: list[tuple[str, str]],
    provenance: dict,
    summary: str = "",
    folded: list[tuple[str, str]] | None = None,
) -> Path:
    """Write ``report.html``; ``tables`` are (heading, html) pairs, ``figures`` (png, caption) pairs.

    ``summary`` (html) follows the intro under "What the numbers show"; ``folded`` (heading, html) sections and
    the provenance are folded away in ``<details>`` blocks at the end.
    """
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{intro}</p>"]  # fmt: skip
    if summary:
        parts.append(f"<h2>What the numbers show</h2><div class='summary'>{summary}</div>")
    if figures:
        parts.append("<h2>Figures</h2>")
    for path, caption in figures:
        parts.append(f"<figure><img src='{_image(path)}' alt='{html.escape(caption)}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")  # fmt: skip
    for heading, body in tables:
        parts.append(f"<h2>{html.escape(heading)}</h2><div class='wide'>{body}</div>")
    for heading, body in folded or []:
        parts.append(f"<details><summary>{html.escape(heading)}</summary><div class='wide'>{body}</div></details>")
    parts.append("<details><summary>Settings and provenance</summary><pre>")
    parts.append(html.escape(json.dumps(provenance, indent=2, default=str)))
    parts.append("</pre></details></body></html>\n")
    out = Path(out)
    out.write_text("".join(parts), encoding="utf-8")
    return out
