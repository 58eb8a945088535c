"""Markdown to a standalone HTML page, Markdown tables, and the lineage picture as SVG."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from markdown_it import MarkdownIt

TIER_ORDER = ("raw", "pseudonymised", "aggregate")
_MERMAID = re.compile(r"^```mermaid\n.*?^```\n?", re.MULTILINE | re.DOTALL)
# Reports quote text we did not write (DPIA comments, approvers, register descriptions): raw HTML
# in it is shown as text, never passed through, and links keep markdown-it's safe schemes only.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2433}"
    "table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccd;padding:.3rem .6rem;text-align:left;vertical-align:top}"
    "th{background:#f2f4f8}code{background:#f2f4f8;padding:0 .2rem}"
)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def to_html(title: str, body_markdown: str, pictures: Mapping[str, str] | None = None) -> str:
    """`pictures` maps a placeholder line in the Markdown (e.g. '<!-- lineage -->') to inline SVG,
    which replaces the Mermaid blocks that Markdown viewers draw. The Markdown is rendered with raw
    HTML off, so a placeholder is found as a line of the source, not in the rendered page."""
    pictures = pictures or {}
    if pictures:
        body_markdown = _MERMAID.sub("", body_markdown)
    parts, block = [], []
    for line in body_markdown.splitlines(keepends=True):
        if line.strip() in pictures:
            parts += [_MARKDOWN.render("".join(block)), f"<figure>{pictures[line.strip()]}</figure>\n"]
            block = []
        else:
            block.append(line)
    body = "".join([*parts, _MARKDOWN.render("".join(block))])
    return f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"


def mermaid_lineage(assets: Mapping[str, Mapping]) -> str:
    """The same lineage as a Mermaid block, which GitHub and most Markdown viewers draw."""
    lines = ["```mermaid", "graph LR"]
    for name in sorted(assets):
        lines.append(f"  {name}[\"{name}<br/>{assets[name]['tier']}\"]")
        lines += [f"  {dep} --> {name}" for dep in assets[name]["deps"] if dep in assets]
    return "\n".join([*lines, "```"])


def lineage_svg(assets: Mapping[str, Mapping], highlight: str | None = None) -> str:
    """Assets in one column per tier, arrows along dependencies; the activity's own assets bold."""
    width, height, gap = 200, 36, 14
    columns = {tier: sorted(n for n, a in assets.items() if a["tier"] == tier) for tier in TIER_ORDER}
    position = {}
    for x, tier in enumerate(TIER_ORDER):
        for y, name in enumerate(columns[tier]):
            position[name] = (20 + x * (width + 80), 40 + y * (height + gap))
    total_h = 60 + max((len(c) for c in columns.values()), default=1) * (height + gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{20 + 3 * (width + 80)}" height="{total_h}" font-family="sans-serif" font-size="12">']
    parts.append('<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#667"/></marker></defs>')
    for x, tier in enumerate(TIER_ORDER):
        parts.append(f'<text x="{20 + x * (width + 80)}" y="24" font-weight="bold">{tier}</text>')
    for name, (x, y) in position.items():
        for dep in assets[name]["deps"]:
            if dep in position:
                dx, dy = position[dep]
                parts.append(f'<line x1="{dx + width}" y1="{dy + height / 2}" x2="{x}" y2="{y + height / 2}" stroke="#667" marker-end="url(#arrow)"/>')
    for name, (x, y) in position.items():
        own = assets[name].get("activity") == highlight
        parts.append(f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="6" fill="{"#dbe8ff" if own else "#f2f4f8"}" stroke="#335" stroke-width="{2 if own else 1}"/>')
        parts.append(f'<text x="{x + 10}" y="{y + 22}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
