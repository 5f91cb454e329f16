"""How a benchmark hands its figures to the report that bench/run_all.py writes (bench/RESULTS.md).

Each script prints its figures as before and, at the end, calls `report()` once
per figure it is judged by. When BENCH_RESULTS names a file, the result is
appended to it as one JSON line; otherwise nothing is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

#: The environment variable naming the JSON Lines file results are appended to.
RESULTS_ENV = "BENCH_RESULTS"


def report(
    benchmark: str,
    *,
    figure: float,
    unit: str,
    baseline: float,
    target: str,
    checks: dict[str, bool],
    database: str,
    ratio: float | None = None,
    baseline_unit: str | None = None,
    notes: dict[str, str] | None = None,
) -> dict:
    """Record one figure against the baseline measured in the same run; returns the record.

    `ratio` defaults to figure / baseline (both rates, higher is better); a
    benchmark whose baseline is counted in another unit passes its own ratio
    or `baseline_unit`. `checks` names each part of the target and whether it
    was met (empty when no target was set); the target is met when every part
    is. `notes` holds the rest worth reading beside it (p99, peak memory,
    sizes), as short texts.
    """
    record = {
        "benchmark": benchmark,
        "figure": figure,
        "unit": unit,
        "baseline": baseline,
        "baseline_unit": baseline_unit or unit,
        "ratio": figure / baseline if ratio is None else ratio,
        "target": target,
        "met": all(checks.values()) if checks else None,
        "missed": [part for part, met in checks.items() if not met],
        "database": database,
        "notes": dict(notes or {}),
    }
    path = os.environ.get(RESULTS_ENV)
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
    return record
