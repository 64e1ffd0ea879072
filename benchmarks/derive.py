"""Benchmark: deriving ResNet50's math, with every layer's equation checked, against loading it.

Run: `python benchmarks/derive.py [--repeat N]`. Prints the time to load ResNet50 from a saved
`.keras` file, to build it with `keras.applications.ResNet50(weights=None)`, to derive its math
(`derive_model(describe_model(model))`, goal below 0.2x the load), and to derive it with the
equation checks: the weights read, every layer call probed in one `predict`, every layer's
equation evaluated and compared (goal: at most 1x the load).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from timing import timed

GOAL = 0.2
CHECKED_GOAL = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (median)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    import keras

    from generator.equation.layer_checks import check_equations
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model
    from generator.model.probe import probe_layers

    build_time, model = timed(lambda: keras.applications.ResNet50(weights=None), 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "resnet50.keras"
        model.save(path)
        load_time, loaded = timed(
            lambda: keras.saving.load_model(path, safe_mode=True), args.repeat
        )
    describe_time, graph = timed(lambda: describe_model(loaded), args.repeat)
    derive_only, math = timed(lambda: derive_model(graph), args.repeat)
    total_time, _ = timed(lambda: derive_model(describe_model(loaded)), args.repeat)

    def checked():
        derived = derive_model(describe_model(loaded, with_weights=True))
        return check_equations(derived, probe_layers(loaded).layers)

    probe_time, _ = timed(lambda: probe_layers(loaded), args.repeat)
    checked_time, checks = timed(checked, args.repeat)

    ratio = total_time / load_time
    checked_ratio = checked_time / load_time
    rows = [
        ("load ResNet50 from .keras", load_time),
        ("build ResNet50(weights=None)", build_time),
        ("describe_model", describe_time),
        ("derive_model", derive_only),
        ("derive_model(describe_model(model))", total_time),
        ("probe every layer call (one call)", probe_time),
        ("derive with the equation checks", checked_time),
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
    print(f"  {checks.check.name}: {'passed' if checks.check.passed else 'FAILED'}")
    print(f"    {checks.check.detail}")
    print(
        f"  checked derivation / load = {checked_ratio:.3f}x  (goal <= {CHECKED_GOAL}x: "
        f"{'met' if checked_ratio <= CHECKED_GOAL else 'MISSED'})"
    )
    met = ratio < GOAL and checked_ratio <= CHECKED_GOAL and checks.check.passed
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
