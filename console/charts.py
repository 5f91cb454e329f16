"""Server-side SVG bar charts of months and dollars: plain values in, an SVG string out.

The SVG is inlined in the page: no script, no outside service, and only
presentation attributes (fill=, stroke=), which the content security policy
allows where it forbids style attributes. Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from core.money import format_cents

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 36, 56
INK, GRID, MUTED = "#1f2328", "#d0d7de", "#57606a"
#: Bar colours with enough contrast against white (WCAG 1.4.11).
BLUE, ORANGE = "#0b5cad", "#b35900"


@dataclass(frozen=True)
class Series:
    """One set of bars: a name for the legend, a colour and one value in cents per month."""

    name: str
    fill: str
    cents: Sequence[int]


def _text(value: object) -> str:
    """Escape text and attribute values for XML (and HTML, where the SVG is inlined)."""
    return escape(str(value), quote=True)


def dollars(cents: int) -> str:
    """Whole dollars for an axis: "$12,300"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}"


def nice_scale(top_cents: int, ticks: int = 5) -> tuple[int, int]:
    """(step, top) in cents: a round step (1, 2 or 5 times a power of ten dollars) and ticks*step >= top."""
    step = 100
    while True:
        for factor in (1, 2, 5):
            if step * factor * ticks >= top_cents:
                return step * factor, step * factor * ticks
        step *= 10


def _month_label(index: int, month: date, x: float) -> list[str]:
    """The month's name under its bars, and its year under the first month and each January."""
    parts = [
        f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="12" '
        f'fill="{INK}">{_text(month.strftime("%b"))}</text>'
    ]
    if index == 0 or month.month == 1:
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 33}" text-anchor="middle" font-size="11" '
            f'fill="{MUTED}">{month.year}</text>'
        )
    return parts


def _axis(step: int, top: int) -> list[str]:
    """Horizontal grid lines with their dollar labels, and the axis title."""
    plot = HEIGHT - TOP - BOTTOM
    parts = []
    for tick in range(0, top + 1, step):
        y = HEIGHT - BOTTOM - plot * tick / top
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{INK if tick == 0 else GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{INK}">{_text(dollars(tick))}</text>'
        )
    middle = TOP + plot / 2
    parts.append(
        f'<text x="16" y="{middle:.1f}" text-anchor="middle" font-size="12" fill="{MUTED}" '
        f'transform="rotate(-90 16 {middle:.1f})">Dollars</text>'
    )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    """A key for the colours, above the plot."""
    parts, x = [], LEFT
    for one in series:
        parts.append(f'<rect x="{x}" y="10" width="14" height="14" fill="{_text(one.fill)}"/>')
        parts.append(
            f'<text x="{x + 20}" y="22" font-size="12" fill="{INK}">{_text(one.name)}</text>'
        )
        x += 28 + 8 * len(one.name)
    return parts


def bar_chart(
    chart_id: str, title: str, desc: str, months: Sequence[date], series: Sequence[Series]
) -> str:
    """Bars per month (grouped side by side when there are several series), with a dollar axis."""
    for one in series:
        if len(one.cents) != len(months):
            raise ValueError(
                f"series {one.name!r} has {len(one.cents)} values for {len(months)} months"
            )
    step, top = nice_scale(max([c for one in series for c in one.cents] + [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar_w = slot * 0.7 / max(len(series), 1)
    ident = _text(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="system-ui, sans-serif" class="chart" id="{ident}">',
        f'<title id="{ident}-title">{_text(title)}</title>',
        f'<desc id="{ident}-desc">{_text(desc)}</desc>',
        *_axis(step, top),
        *_legend(series),
    ]
    for index, month in enumerate(months):
        left = LEFT + index * slot + slot * 0.15
        for number, one in enumerate(series):
            cents = one.cents[index]
            height = plot_h * max(cents, 0) / top
            x, y = left + number * bar_w, HEIGHT - BOTTOM - height
            label = f"{one.name}, {month.strftime('%B %Y')}: {format_cents(cents)}"
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{height:.1f}" fill="{_text(one.fill)}">'
                f"<title>{_text(label)}</title></rect>"
            )
        parts += _month_label(index, month, LEFT + index * slot + slot / 2)
    parts.append("</svg>")
    return "\n".join(parts)


def collections_chart(months: Sequence[date], collected: Sequence[int]) -> str:
    """The last months' collections, one bar per month."""
    total = format_cents(sum(collected))
    return bar_chart(
        "collections-chart",
        "Collections by month",
        f"Payments received in each of the last {len(months)} months, in dollars; "
        f"{total} in all. The table beside the chart gives each amount.",
        months,
        [Series("Collected", BLUE, collected)],
    )


def billed_collected_chart(
    months: Sequence[date], billed: Sequence[int], collected: Sequence[int]
) -> str:
    """Billed beside collected for each of the last months, two bars per month."""
    return bar_chart(
        "billed-collected-chart",
        "Billed and collected by month",
        f"For each of the last {len(months)} months, the amount billed beside the amount "
        f"collected, in dollars: {format_cents(sum(billed))} billed and {format_cents(sum(collected))} "
        "collected in all. The table beside the chart gives each amount.",
        months,
        [Series("Billed", ORANGE, billed), Series("Collected", BLUE, collected)],
    )
