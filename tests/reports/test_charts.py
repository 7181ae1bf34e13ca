"""The report's bar charts: valid SVG drawn on the server, one bar per row, named for screen readers,
readable in black and white (each value written beside its bar)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from flask import render_template

from sosep_migrantes.core.timeutil import LOCAL_TZ
from sosep_migrantes.reports.charts import bar_chart, format_value, table_chart
from sosep_migrantes.reports.queries import ReportFilters
from sosep_migrantes.reports.tables import Column, Table, build_report
from tests.factories import make_arrival, make_family, make_user, member

SVG = "{http://www.w3.org/2000/svg}"


def render(chart) -> ET.Element:
    """The chart's SVG, parsed as XML (it must be well-formed to be drawn in the page and in the PDF)."""
    return ET.fromstring(render_template("reports/_chart.svg.html", chart=chart))  # noqa: S314 - our own


def bars(svg: ET.Element) -> list[ET.Element]:
    return svg.findall(f"{SVG}g[@class='bar']")


def table(rows: list[tuple[str, int]], chart_value: str | None = "families") -> Table:
    columns = [Column("label", "Centro", numeric=False), Column("families", "Familias")]
    return Table(
        "by_centre",
        "Por centro de recepción",
        columns,
        [{"code": label[:3], "label": label, "families": n} for label, n in rows],
        chart_value=chart_value,
    )


def test_one_bar_per_row_with_its_value_beside_it(ctx):
    chart = table_chart(table([("FAG", 120), ("Tecún Umán", 30), ("La Aurora", 0)]))
    assert chart is not None
    svg = render(chart)
    assert svg.tag == f"{SVG}svg"
    drawn = bars(svg)
    assert len(drawn) == 3
    widths = [float(g.find(f"{SVG}rect").get("width")) for g in drawn]
    assert widths[0] == max(widths) > 0 and widths[2] == 0
    assert widths[1] == pytest.approx(widths[0] / 4, abs=0.1)
    labels = [[t.text for t in g.findall(f"{SVG}text")] for g in drawn]
    assert labels == [["FAG", "120"], ["Tecún Umán", "30"], ["La Aurora", "0"]]
    # Each value is written just after the end of its bar.
    for g, width in zip(drawn, widths, strict=True):
        rect, value = g.find(f"{SVG}rect"), g.findall(f"{SVG}text")[1]
        assert float(value.get("x")) == pytest.approx(float(rect.get("x")) + width + 5)


def test_the_chart_is_named_for_screen_readers(ctx):
    svg = render(table_chart(table([("FAG", 2), ("Tecún Umán", 1)])))
    assert svg.get("role") == "img"
    name = "Gráfica de barras: Por centro de recepción (Familias)"
    assert svg.get("aria-label") == name
    assert svg.find(f"{SVG}title").text == name
    desc = svg.find(f"{SVG}desc")
    assert svg.get("aria-describedby") == desc.get("id")
    assert desc.text == "FAG: 2; Tecún Umán: 1"
    assert [g.find(f"{SVG}title").text for g in bars(svg)] == ["FAG: 2", "Tecún Umán: 1"]


def test_it_prints_in_black_and_white_and_needs_no_script(ctx):
    source = render_template("reports/_chart.svg.html", chart=table_chart(table([("FAG", 2)])))
    assert "<script" not in source and "onclick" not in source.lower()
    svg = ET.fromstring(source)  # noqa: S314 - our own template's output
    fills = {g.find(f"{SVG}rect").get("fill") for g in bars(svg)}
    assert len(fills) == 1  # one series: nothing is told by colour
    (fill,) = fills
    red, green, blue = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
    assert 0.299 * red + 0.587 * green + 0.114 * blue < 128  # a dark grey on paper, plain on white
    texts = {t.get("fill") for t in svg.iter(f"{SVG}text")}
    assert texts == {"#111111"}


def test_labels_are_escaped_and_long_ones_cut_with_the_whole_label_kept(ctx):
    long = "Secretaría de Bienestar Social de la Presidencia de la República <SBS> & más"
    svg = render(table_chart(table([(long, 5), ("=1+1", 1)])))
    first = bars(svg)[0]
    drawn = first.findall(f"{SVG}text")[0].text
    assert drawn.endswith("…") and len(drawn) < len(long)
    assert first.find(f"{SVG}title").text == f"{long}: 5"
    assert bars(svg)[1].findall(f"{SVG}text")[0].text == "=1+1"


def test_no_chart_without_a_chart_column_or_rows(ctx):
    assert table_chart(table([("FAG", 1)], chart_value=None)) is None
    assert table_chart(table([])) is None


def test_all_zero_draws_empty_bars(ctx):
    svg = render(table_chart(table([("FAG", 0), ("Tecún Umán", 0)])))
    assert [float(g.find(f"{SVG}rect").get("width")) for g in bars(svg)] == [0, 0]


def test_large_numbers_and_fractions(ctx):
    chart = bar_chart("c", "Personas", [("Huehuetenango", 12345), ("Quiché", 2.5)])
    assert [bar.text for bar in chart.bars] == ["12,345", "2.5"]
    assert format_value(1_000_000) == "1,000,000"
    assert int(render(chart).get("height")) == chart.height


def test_every_chart_of_a_report_is_valid_svg_with_one_bar_per_row(ctx):
    desk = make_user("reception", centre="FAG")
    arrival = make_arrival(desk, when=dt.datetime(2026, 10, 12, 9, 0, tzinfo=LOCAL_TZ))
    make_family(
        desk, arrival, members=[member(), member("Ana", "López Pérez", relationship="DAUGHTER", age=3)]
    )
    make_family(desk, arrival, municipality=1413, members=[member("Pedro", "Ixcoy", sex="M", age=61)])
    report = build_report(
        make_user("coordinator"), ReportFilters(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    )
    charted = 0
    for t in report.tables:
        chart = table_chart(t)
        if t.chart_value is None or not t.rows:
            assert chart is None, t.key
            continue
        charted += 1
        svg = render(chart)
        assert len(bars(svg)) == len(t.rows), t.key
        values = [g.findall(f"{SVG}text")[1].text for g in bars(svg)]
        assert values == [format_value(row[t.chart_value]) for row in t.rows], t.key
        ids = [element.get("id") for element in svg.iter() if element.get("id")]
        assert len(ids) == len(set(ids))
    assert charted >= 8
