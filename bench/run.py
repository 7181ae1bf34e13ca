"""``make bench``: every benchmark suite, on PostgreSQL with the national-scale database.

Targets are checked here, never by timed tests. Each suite writes its table into
docs/performance.md; this exits non-zero when a target is not met, so a regression is seen.
Suites: ``scale`` (issue #6), ``followup`` (issue #8), ``reports`` (issue #9), ``desk-save`` and ``desk``
(issue #11: the one-screen save; a passenger list previewed and confirmed), ``returnees`` (issue #12: one
person's earlier records across the country).
Run one with
``python bench/run.py reports``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import api, desk_save, followup, passenger_list, reports, returnees, scale

SUITES = {
    "scale": scale.main,
    "followup": followup.main,
    "reports": reports.main,
    "desk-save": desk_save.main,
    "desk": passenger_list.main,
    "api": api.main,
    "returnees": returnees.main,
}


def main(names: list[str]) -> int:
    failed = []
    for name in names or list(SUITES):
        rows = SUITES[name]()
        failed += [f"{name}: {row.operation}" for row in rows if not row.met]
    for line in failed:
        print(f"target not met: {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
