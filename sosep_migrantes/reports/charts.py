"""Horizontal bar charts drawn on the server: Python lays the bars out, ``reports/_chart.svg.html`` draws.

The same SVG goes in the page and in the PDF; it needs no script, names itself for screen readers
(``role="img"``, ``aria-label``, ``<title>``) and prints in black and white: one series per chart, a dark
grey-blue that prints as a dark grey, and each bar's number written beside it, so nothing is said by
colour alone. Every chart sits beside the table that holds its numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from flask_babel import gettext as _

from .tables import Table

#: Sizes in SVG user units (pixels at 100 %).
WIDTH: Final = 560
ROW_HEIGHT: Final = 22
BAR_HEIGHT: Final = 14
FONT_SIZE: Final = 12
#: Rough width of a character at ``FONT_SIZE`` (the server cannot measure text; labels are cut to fit).
CHAR_WIDTH: Final = 7.0
LABEL_WIDTH_MIN: Final = 60
LABEL_WIDTH_MAX: Final = 220
PADDING: Final = 6
#: Bar fill (luma about 87: a dark grey on paper) and outline.
BAR_FILL: Final = "#3b5b8c"
BAR_STROKE: Final = "#1b2a41"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # the row's whole label (the bar's tooltip)
    short: str  # the label as drawn, cut to the label column
    value: int | float
    text: str  # the value as written beside the bar
    y: float  # top of the row
    width: float  # length of the bar

    @property
    def text_y(self) -> float:
        return self.y + ROW_HEIGHT / 2 + FONT_SIZE * 0.35

    @property
    def bar_y(self) -> float:
        return self.y + (ROW_HEIGHT - BAR_HEIGHT) / 2


@dataclass(frozen=True, slots=True)
class BarChart:
    """What ``reports/_chart.svg.html`` draws: pass it to the template as ``chart``."""

    key: str  # unique on the page (the SVG's ids)
    title: str  # the chart's accessible name
    bars: tuple[Bar, ...]
    label_width: float

    width: int = WIDTH
    bar_height: int = BAR_HEIGHT
    font_size: int = FONT_SIZE
    fill: str = BAR_FILL
    stroke: str = BAR_STROKE

    @property
    def bar_x(self) -> float:
        return self.label_width + PADDING

    @property
    def height(self) -> int:
        return len(self.bars) * ROW_HEIGHT + 2 * PADDING

    @property
    def description(self) -> str:
        """The figures in words, for assistive technology (the table beside the chart has them too)."""
        return "; ".join(f"{bar.label}: {bar.text}" for bar in self.bars)


def format_value(value: int | float) -> str:
    """``12,345`` (Guatemala groups thousands with a comma, as English does); a fraction keeps one digit."""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}"


def _cut(label: str, max_chars: int) -> str:
    return label if len(label) <= max_chars else label[: max(max_chars - 1, 1)].rstrip() + "…"


def bar_chart(key: str, title: str, items: Sequence[tuple[str, int | float]]) -> BarChart:
    """One bar per ``(label, value)``, in the order given, the longest bar the largest value."""
    max_chars = int((LABEL_WIDTH_MAX - PADDING) / CHAR_WIDTH)
    longest = min(max((len(label) for label, _value in items), default=0), max_chars)
    label_width = max(longest * CHAR_WIDTH + PADDING, LABEL_WIDTH_MIN)
    texts = [format_value(value) for _label, value in items]
    text_width = max((len(t) for t in texts), default=1) * CHAR_WIDTH + 2 * PADDING
    room = WIDTH - label_width - 2 * PADDING - text_width
    top = max((value for _label, value in items), default=0)
    bars = tuple(
        Bar(
            label=label,
            short=_cut(label, max_chars),
            value=value,
            text=text,
            y=PADDING + i * ROW_HEIGHT,
            width=round(room * value / top, 1) if top > 0 and value > 0 else 0.0,
        )
        for i, ((label, value), text) in enumerate(zip(items, texts, strict=True))
    )
    return BarChart(key=key, title=title, bars=bars, label_width=round(label_width, 1))


def _number(value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return value


def table_chart(table: Table) -> BarChart | None:
    """A table's chart (its ``chart_value`` by its ``chart_label``), one bar per row; None without one."""
    if table.chart_value is None or not table.rows:
        return None
    column = next((c for c in table.columns if c.key == table.chart_value), None)
    measure = column.label if column is not None else table.chart_value
    items = [(str(row.get(table.chart_label, "")), _number(row.get(table.chart_value))) for row in table.rows]
    title = _("Gráfica de barras: %(title)s (%(measure)s)", title=table.title, measure=measure)
    return bar_chart(f"chart-{table.key}", title, items)
