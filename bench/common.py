"""What every benchmark shares: timing with median and p95, the national-scale database, the report.

A benchmark row is an operation timed through the real WSGI application next to a limit measured in
the same run (the bare SQL query it runs, a bare Flask route, WeasyPrint on the same HTML), so a
figure can be read against what the machine allows that day. Results go to ``docs/performance.md``
between markers, one block per suite, so later issues add their rows without touching the others.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PERFORMANCE_MD = ROOT / "docs" / "performance.md"
#: The national-scale database: built once (about a minute), reused by every later run. A little over a
#: million persons: the 300,000 family units issue #8's targets are stated at (3.5 persons a family).
BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/sosep_bench")
BENCH_PERSONS = int(os.environ.get("BENCH_PERSONS", "1050000"))
BENCH_SEED = 1
BENCH_PASSWORD = "bench-password-2026"  # noqa: S105 - synthetic accounts of a synthetic database


@dataclass
class Timing:
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=20, method="inclusive")[18]


def measure(fn: Callable[[int], object], runs: int, warmup: int = 2) -> Timing:
    """Call ``fn(i)`` ``warmup`` times untimed, then ``runs`` times timed (wall clock, milliseconds)."""
    for i in range(warmup):
        fn(i)
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        fn(warmup + i)
        samples.append((time.perf_counter() - start) * 1000)
    return Timing(samples)


@dataclass
class Row:
    operation: str
    target: str
    timing: Timing
    #: What the same run measured as the limit (``None`` when the issue names none).
    baseline_name: str | None = None
    baseline: Timing | None = None
    #: Whether the target is met (decided by the suite, which knows the target's statistic).
    met: bool = True

    def markdown(self) -> str:
        t = self.timing
        base = ratio = "-"
        if self.baseline is not None:
            base = f"{self.baseline_name}: {fmt(self.baseline.median)} / {fmt(self.baseline.p95)}"
            ratio = f"{t.p95 / self.baseline.p95:.1f}x" if self.baseline.p95 else "-"
        verdict = "met" if self.met else "**NOT met**"
        return (
            f"| {self.operation} | {self.target} | {fmt(t.median)} | {fmt(t.p95)} | {len(t.samples_ms)} "
            f"| {base} | {ratio} | {verdict} |"
        )


def fmt(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pg = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, check=False, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pg = "psql not found"
    return f"{os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; {pg}"


def table(rows: list[Row]) -> str:
    head = (
        "| operation | target | median | p95 | runs | limit measured in the same run (median / p95) "
        "| p95 ratio | target |\n|---|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *(r.markdown() for r in rows)])


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the block between ``<!-- bench:KEY -->`` markers in docs/performance.md."""
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    block = f"{start}\n## {title}\n\nMeasured {stamp} on {machine()}.\n\n{body.strip()}\n{end}"
    text = PERFORMANCE_MD.read_text() if PERFORMANCE_MD.exists() else "# Performance\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    PERFORMANCE_MD.write_text(text)
