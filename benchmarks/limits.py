"""The composed equation's size limit timed: refusing a huge expression costs about a derivation.

    python benchmarks/limits.py

`compose_equation` counts an expression's operations before it builds it, so a model over
`MathSettings.max_closed_form_ops` gets its layered form in time proportional to its parameters.
Each row times, side by side in one run, `compose_equation` on such a model against
`derive_model` on the same model (the per-layer shapes, counts and equations every page needs):
the goal is a ratio of at most 2 (it was a wall-clock assert of 2 s in the tests before).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPEAT = 3
GOAL = 2.0


def mlp(units, seed=3):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((units[0],))]
    layers += [keras.layers.Dense(n, activation="tanh") for n in units[1:]]
    return keras.Sequential(layers)


def best_of(function) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import keras

    from generator.equation.compose import compose_equation
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    models = {
        "MLP 8-512-512-512-4": mlp((8, 512, 512, 512, 4)),
        "ResNet50 (random weights)": keras.applications.ResNet50(weights=None),
    }
    print(f"{'model':28} {'compose s':>10} {'derive s':>10} {'ratio':>7}  goal <= {GOAL:g}")
    for name, model in models.items():
        graph = describe_model(model, with_weights=True)
        derived = derive_model(graph)
        equation = compose_equation(model, derived)
        assert not equation.closed_form, f"{name}: expected the layered form"
        ours = best_of(lambda: compose_equation(model, derived))  # noqa: B023
        baseline = best_of(lambda: derive_model(graph))  # noqa: B023
        verdict = "ok" if ours <= GOAL * baseline else "OVER"
        print(f"{name:28} {ours:10.3f} {baseline:10.3f} {ours / baseline:7.2f}  {verdict}")


if __name__ == "__main__":
    main()
