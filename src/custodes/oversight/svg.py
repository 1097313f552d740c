"""Static SVG charts rendered on the server: no script, no CDN, readable when printed.

Every label is escaped; sizes are computed from the data, so a chart never clips a bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#1f4e79", "#b03a2e", "#7d6608", "#196f3d", "#6c3483", "#515a5a")
ROW, LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH = 22, 260, 360, 120


def bar_chart(
    title: str, items: Sequence[tuple[str, float]], *, unit: str = "", color: str = PALETTE[0]
) -> str:
    """A horizontal bar chart of (label, value), largest value scaled to the full width."""
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = 30 + ROW * max(len(items), 1)
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    if not items:
        parts.append('<text x="0" y="40">nothing in this period</text>')
    for i, (label, value) in enumerate(items):
        y = 26 + i * ROW
        bar = BAR_WIDTH * value / top
        shown = (
            f"{value:,.0f}"
            if float(value).is_integer()
            else f"{value:.1%}"
            if unit == "%"
            else f"{value:,.2f}"
        )
        suffix = escape(unit if unit != "%" else "")
        parts += [
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end">{escape(_clip(label))}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{bar:.1f}" height="{ROW - 6}" fill="{color}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>",
            f'<text x="{LABEL_WIDTH + bar + 6:.1f}" y="{y + 14}">{escape(shown)}{suffix}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def stacked_bar(title: str, segments: Sequence[tuple[str, float]]) -> str:
    """One bar split into labelled shares (e.g. outcomes), with a legend."""
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    total = sum(v for _, v in segments) or 1
    height = 60 + ROW * len(segments)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>',
    ]
    x = 0.0
    full = width - 10
    for i, (label, value) in enumerate(segments):
        w = full * value / total
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.1f}" y="24" width="{w:.1f}" height="20" fill="{color}">'
            f"<title>{escape(label)}: {value:,.0f}</title></rect>"
        )
        y = 52 + i * ROW
        parts += [
            f'<rect x="0" y="{y}" width="12" height="12" fill="{color}"/>',
            f'<text x="18" y="{y + 11}">{escape(label)}: {value:,.0f} ({value / total:.1%})</text>',
        ]
        x += w
    parts.append("</svg>")
    return "".join(parts)


def _clip(label: str, limit: int = 40) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
