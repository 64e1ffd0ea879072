"""The composed equation's size limit timed: refusing a huge expression costs about a derivation.

    python benchmarks/limits.py

`compose_equation` counts an expression's operations before it builds it, so a model over
`MathSettings.max_closed_form_ops` gets its layered form in time proportional to its parameters.
Each row times, side by side in one run, `compose_equation` on such a model against
`describe_model` of the same model (reading its layers and weights once, which every page needs):
the goal is a ratio of at most 1 (it was a wall-clock assert of 2 s in the tests before).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPEAT = 3
GOAL = 1.0


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
    from generator.model.reference import keras_reference

    models = {
        "MLP 8-512-512-512-4": mlp((8, 512, 512, 512, 4)),
        "ResNet50 (random weights)": keras.applications.ResNet50(weights=None),
    }
    print(f"{'model':28} {'compose ms':>11} {'describe ms':>12} {'ratio':>7}  goal <= {GOAL:g}")
    for name, model in models.items():
        graph = describe_model(model, with_weights=True)
        derived = derive_model(graph)
        equation = compose_equation(keras_reference(model), derived)
        assert not equation.closed_form, f"{name}: expected the layered form"
        ours = best_of(lambda: compose_equation(keras_reference(model), derived))  # noqa: B023
        baseline = best_of(lambda: describe_model(model, with_weights=True))  # noqa: B023
        verdict = "ok" if ours <= GOAL * baseline else "OVER"
        ratio = ours / baseline
        print(f"{name:28} {1000 * ours:11.1f} {1000 * baseline:12.1f} {ratio:7.3f}  {verdict}")


if __name__ == "__main__":
    main()
