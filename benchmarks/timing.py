"""Timing for the benchmark scripts (run as `python benchmarks/NAME.py`, which puts this folder
on the path): the median of repeated calls, measured side by side in one run."""

from __future__ import annotations

import statistics
import time


def timed(fn, repeat: int) -> tuple[float, object]:
    """The median wall time of `repeat` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
