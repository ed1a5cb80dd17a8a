"""Pieces shared by the benchmarks: percentiles and the `--json FILE` output."""

from __future__ import annotations

import json
import math
from typing import Any, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """
    Nearest-rank percentile.

    A value that really occurred (with 60 samples, p99 = the slowest one); NaN for no values.
    """
    if not values:
        return float('nan')
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def save_json(path: str | None, results: Any) -> None:
    """Write ``results`` to ``path`` as indented JSON; nothing when ``--json`` was not given."""
    if path:
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(results, f, indent=2)
