"""The map of Guatemala's 22 departments, and the colour classes of a choropleth drawn on it.

The outlines are data (``reports/data/departments.json``, built by ``tools/build_department_map.py`` from
MINFIN's boundaries; see ``reports/data/README.md``), already projected to SVG coordinates. Python only
computes: which class each department falls in, the legend's ranges and the fills. The SVG itself is
drawn by the template ``reports/_map.svg.html``, the same in the page and in the PDF, with no script.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

DATA_FILE: Final = Path(__file__).resolve().parent / "data" / "departments.json"

#: Fill of each class: index 0 is "none" (a count of 0), then lightest to darkest. A sequential blue
#: whose grey levels (luma 255, 222, 184, 134, 85, 43) stay apart when printed in black and white.
PALETTE: Final[tuple[str, ...]] = ("#ffffff", "#cfe1f2", "#93c3df", "#4a98c9", "#1764ab", "#08306b")
#: Colour of the number drawn on each class's fill: dark on the light ones, white on the dark ones.
LABEL_FILLS: Final[tuple[str, ...]] = ("#111111", "#111111", "#111111", "#111111", "#ffffff", "#ffffff")
#: The most classes of non-zero counts (the palette's colours after the one for 0).
MAX_CLASSES: Final = len(PALETTE) - 1


@dataclass(frozen=True, slots=True)
class DepartmentShape:
    code: int  # INE department code, 1-22, as in catalogs/data/departments.csv
    name: str
    d: str  # SVG path data, in the map's viewBox coordinates: "M x y L x y ... Z"
    label_x: float  # where the department's number goes (roughly its pole of inaccessibility)
    label_y: float


@dataclass(frozen=True, slots=True)
class DepartmentMap:
    view_box: tuple[float, float, float, float]
    shapes: tuple[DepartmentShape, ...]  # ordered by code
    attribution: str  # the boundaries' source, drawn in a corner of the map

    @property
    def width(self) -> float:
        return self.view_box[2]

    @property
    def height(self) -> float:
        return self.view_box[3]

    @property
    def view_box_attr(self) -> str:
        return " ".join(f"{v:g}" for v in self.view_box)


@cache
def department_shapes() -> DepartmentMap:
    """The 22 departments' outlines, read once per process."""
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    x, y, width, height = (float(v) for v in data["viewBox"])
    shapes = tuple(
        DepartmentShape(
            code=int(dep["code"]),
            name=str(dep["name"]),
            d=str(dep["d"]),
            label_x=float(dep["label"][0]),
            label_y=float(dep["label"][1]),
        )
        for dep in sorted(data["departments"], key=lambda dep: int(dep["code"]))
    )
    return DepartmentMap(view_box=(x, y, width, height), shapes=shapes, attribution=str(data["attribution"]))


def _upper_bounds(values: Iterable[int], n_classes: int) -> list[int]:
    """Quantile breaks of the non-zero counts: the highest count of each class (ties merge classes)."""
    if not 1 <= n_classes <= MAX_CLASSES:
        raise ValueError(f"n_classes must be between 1 and {MAX_CLASSES}")
    counts = list(values)
    if any(v < 0 for v in counts):
        raise ValueError("counts cannot be negative")
    positive = sorted(v for v in counts if v > 0)
    bounds: list[int] = []
    for k in range(1, n_classes + 1):
        bound = positive[math.ceil(k * len(positive) / n_classes) - 1] if positive else 0
        if bound > 0 and (not bounds or bound > bounds[-1]):
            bounds.append(bound)
    return bounds


def _palette_index(position: int, n_bounds: int) -> int:
    """The fill of class ``position`` of ``n_bounds``, spread over the palette (one class: the darkest)."""
    if n_bounds == 1:
        return MAX_CLASSES
    return 1 + round(position * (MAX_CLASSES - 1) / (n_bounds - 1))


def _class_of(value: int, bounds: list[int]) -> int:
    if value <= 0:
        return 0
    position = next(i for i, bound in enumerate(bounds) if value <= bound)
    return _palette_index(position, len(bounds))


def color_classes(values: Mapping[int, int], n_classes: int = 5) -> dict[int, int]:
    """Each key's class, an index into ``PALETTE``: 0 for a count of 0, else 1 (fewest) to 5 (most).

    Breaks are quantiles of the non-zero counts; ties can leave fewer classes than asked, spread over the
    palette so that the lightest and the darkest are still used (a single class gets the darkest).
    """
    bounds = _upper_bounds(values.values(), n_classes)
    return {key: _class_of(value, bounds) for key, value in values.items()}


@dataclass(frozen=True, slots=True)
class LegendEntry:
    cls: int  # index into PALETTE
    low: int  # counts from low to high, both included
    high: int

    @property
    def fill(self) -> str:
        return PALETTE[self.cls]


def legend_breaks(values: Mapping[int, int] | Iterable[int], n_classes: int = 5) -> list[LegendEntry]:
    """The legend: the class of 0 first, then each class with its range; the ranges cover 0 to the maximum."""
    counts = values.values() if isinstance(values, Mapping) else values
    bounds = _upper_bounds(counts, n_classes)
    entries = [LegendEntry(cls=0, low=0, high=0)]
    low = 1
    for position, bound in enumerate(bounds):
        entries.append(LegendEntry(cls=_palette_index(position, len(bounds)), low=low, high=bound))
        low = bound + 1
    return entries


@dataclass(frozen=True, slots=True)
class Region:
    shape: DepartmentShape
    value: int
    cls: int
    tooltip: str  # "Huehuetenango: 12 familias"

    @property
    def fill(self) -> str:
        return PALETTE[self.cls]

    @property
    def text_fill(self) -> str:
        return LABEL_FILLS[self.cls]


@dataclass(frozen=True, slots=True)
class Choropleth:
    """What ``reports/_map.svg.html`` draws: pass it to the template as ``choropleth``."""

    title: str
    map: DepartmentMap
    regions: tuple[Region, ...]
    legend: tuple[LegendEntry, ...]
    legend_title: str = ""


def choropleth(
    values: Mapping[int, int],
    *,
    title: str,
    count_label: Callable[[int], str] = str,
    legend_title: str = "",
    n_classes: int = 5,
) -> Choropleth:
    """A map of all 22 departments coloured by ``values`` (department code -> count; missing codes count 0).

    ``title`` is the map's accessible name; ``count_label`` words a count for a department's tooltip, e.g.
    ``lambda n: ngettext("%(num)d familia", "%(num)d familias", n)``, translated by the caller.
    """
    shapes = department_shapes().shapes
    unknown = set(values) - {shape.code for shape in shapes}
    if unknown:
        raise ValueError(f"not department codes: {sorted(unknown)}")
    counts = {shape.code: values.get(shape.code, 0) for shape in shapes}
    classes = color_classes(counts, n_classes)
    regions = tuple(
        Region(
            shape=shape,
            value=counts[shape.code],
            cls=classes[shape.code],
            tooltip=f"{shape.name}: {count_label(counts[shape.code])}",
        )
        for shape in shapes
    )
    legend = tuple(legend_breaks(counts, n_classes))
    return Choropleth(
        title=title, map=department_shapes(), regions=regions, legend=legend, legend_title=legend_title
    )
