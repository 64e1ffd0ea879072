"""Benchmark: deriving ResNet50's math against loading (and building) the model itself.

Run: `python benchmarks/derive.py [--repeat N]`. Prints, from one run, the time to load ResNet50
from a saved `.keras` file, the time to build it with `keras.applications.ResNet50(weights=None)`,
and the time of `derive_model(describe_model(model))`, with the ratios. The goal is a derivation
that costs well under the load: below 0.2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

GOAL = 0.2


def _timed(fn, repeat: int) -> tuple[float, object]:
    """The median wall time of `repeat` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (median)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras

    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    build_time, model = _timed(lambda: keras.applications.ResNet50(weights=None), 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet50.keras"
        model.save(path)
        load_time, loaded = _timed(
            lambda: keras.saving.load_model(path, safe_mode=True), args.repeat
        )
    describe_time, graph = _timed(lambda: describe_model(loaded), args.repeat)
    derive_only, math = _timed(lambda: derive_model(graph), args.repeat)
    total_time, _ = _timed(lambda: derive_model(describe_model(loaded)), args.repeat)

    ratio = total_time / load_time
    rows = [
        ("load ResNet50 from .keras", load_time),
        ("build ResNet50(weights=None)", build_time),
        ("describe_model", describe_time),
        ("derive_model", derive_only),
        ("derive_model(describe_model(model))", total_time),
    ]
    print(
        f"ResNet50: {len(math.layers)} layers, {math.total_params:,} parameters "
        f"(Keras: {loaded.count_params():,})"
    )
    for label, seconds in rows:
        print(f"  {label:<38} {seconds * 1000:9.1f} ms")
    print(
        f"  derivation / load  = {ratio:.3f}x  (goal < {GOAL}x: "
        f"{'met' if ratio < GOAL else 'MISSED'})"
    )
    print(f"  derivation / build = {total_time / build_time:.3f}x")
    return 0 if ratio < GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
