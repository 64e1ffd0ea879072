"""Benchmark of the composed equation: derivation time and expression size by width and depth.

Run: `python benchmarks/compose.py`. Each network is a Keras MLP with random weights (no
training). `closed form s` is `compose_equation` without the check against `predict` (counting,
building, LaTeX and NumPy printing); `with check s` adds `model.predict` on the sample. The bar:
1-10-10-1 in under a second. Larger networks are counted only (see `expression_growth`).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ARCHITECTURES = [
    (1, 3, 2, 1),
    (1, 10, 2, 1),
    (1, 10, 10, 1),
    (2, 16, 16, 1),
    (4, 16, 16, 4),
    (4, 32, 32, 4),
]
COUNT_ONLY = [(4, 32, 32, 32, 4), (4, 64, 64, 4), (4, 32, 32, 32, 32, 4), (784, 128, 10)]


def mlp(architecture, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((architecture[0],))]
    for i, units in enumerate(architecture[1:]):
        last = i == len(architecture) - 2
        layers.append(
            keras.layers.Dense(
                units, activation="linear" if last else "tanh", bias_initializer="random_normal"
            )
        )
    return keras.Sequential(layers)


def main() -> None:
    from generator import compose_equation, expression_growth
    from generator.equation.settings import MathSettings
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model
    from generator.model.reference import keras_reference

    settings = MathSettings(max_closed_form_ops=10**6)
    print(
        f"{'network':>16} {'params':>7} {'ops':>9} {'closed form s':>14} {'with check s':>13} "
        f"{'LaTeX chars':>12} {'NumPy chars':>12} {'max error':>10}"
    )
    for arch in ARCHITECTURES:
        model = mlp(arch)
        math = derive_model(describe_model(model, with_weights=True))
        start = time.perf_counter()
        equation = compose_equation(None, math, settings=settings)
        built = time.perf_counter() - start
        start = time.perf_counter()
        checked = compose_equation(keras_reference(model), math, settings=settings)
        total = time.perf_counter() - start
        name = "-".join(map(str, arch))
        print(
            f"{name:>16} {model.count_params():>7} {equation.expansion_ops:>9,} {built:>14.3f} "
            f"{total:>13.3f} {len(equation.latex):>12,} {len(equation.numpy):>12,} "
            f"{checked.max_abs_error:>10.2g}"
        )
    print("\ncounted without building (the closed form would have):")
    for row in expression_growth(COUNT_ONLY, build_limit=0):
        name = "-".join(map(str, row.architecture))
        print(f"{name:>22} {row.params:>9,} params {row.ops:>26,} ops")
    model = mlp((784, 128, 10))
    math = derive_model(describe_model(model, with_weights=True))
    start = time.perf_counter()
    equation = compose_equation(keras_reference(model), math)
    print(
        f"\n784-128-10 at the default limit: closed form {equation.closed_form}, "
        f"{time.perf_counter() - start:.3f} s"
    )


if __name__ == "__main__":
    main()
