"""The rendered LaTeX of a few layers against golden strings, reviewed by eye as mathematics.

The model: a 3x3 convolution with 32 filters on a 32x32x3 image, batch normalization, 2x2 max
pooling, flatten, and a 10-way softmax dense layer. A mismatch fails with a unified diff; change a
golden string only after reading the new one as mathematics.
"""

from __future__ import annotations

import difflib

import pytest

pytestmark = pytest.mark.tensorflow

GOLDEN = {
    (
        "conv",
        "params_latex",
    ): r"\left(k_h k_w c_{in} + 1\right) c_{out} = \left(3 \cdot 3 \cdot 3 + 1\right) \cdot 32"
    r" = 896",
    ("conv", "shape_latex"): r"\begin{aligned} "
    r"n'_h &= \left\lfloor \frac{n_h + 2 p - k_h}{s_h} \right\rfloor + 1 = "
    r"\left\lfloor \frac{32 + 2 \cdot 0 - 3}{1} \right\rfloor + 1 = 30 \\ "
    r"n'_w &= \left\lfloor \frac{n_w + 2 p - k_w}{s_w} \right\rfloor + 1 = "
    r"\left\lfloor \frac{32 + 2 \cdot 0 - 3}{1} \right\rfloor + 1 = 30 \\ "
    r"&\Rightarrow 30 \times 30 \times 32 \end{aligned}",
    (
        "conv",
        "equation_latex",
    ): r"a_{i,j,q} = \mathrm{relu}\!\left(b_q + \sum_{u=0}^{2} \sum_{v=0}^{2} \sum_{c=0}^{2} "
    r"W_{u,v,c,q}\, x_{i + u,\, j + v,\, c}\right)",
    ("bn", "params_latex"): r"4 c_{in} = 4 \cdot 32 = 128",
    ("bn", "shape_latex"): r"30 \times 30 \times 32",
    (
        "bn",
        "equation_latex",
    ): r"a_{\dots,c} = \gamma_c\, \frac{x_{\dots,c} - \mu_c}{\sqrt{\mathrm{var}_c + 0.001}}"
    r" + \beta_c"
    r" \quad (\text{at inference: } \mu_c, \mathrm{var}_c \text{ are the moving mean and "
    r"variance, not trained by gradient})",
    ("pool", "params_latex"): "0",
    ("pool", "shape_latex"): r"\begin{aligned} "
    r"n'_h &= \left\lfloor \frac{n_h + 2 p - k_h}{s_h} \right\rfloor + 1 = "
    r"\left\lfloor \frac{30 + 2 \cdot 0 - 2}{2} \right\rfloor + 1 = 15 \\ "
    r"n'_w &= \left\lfloor \frac{n_w + 2 p - k_w}{s_w} \right\rfloor + 1 = "
    r"\left\lfloor \frac{30 + 2 \cdot 0 - 2}{2} \right\rfloor + 1 = 15 \\ "
    r"&\Rightarrow 15 \times 15 \times 32 \end{aligned}",
    (
        "pool",
        "equation_latex",
    ): r"a_{i,j,c} = \max_{0 \le u < 2,\, 0 \le v < 2} x_{2i + u,\, 2j + v,\, c}",
    ("flatten", "params_latex"): "0",
    (
        "flatten",
        "shape_latex",
    ): r"n' = n_h n_w c_{in} = 15 \cdot 15 \cdot 32 = 7200 \;\Rightarrow\; 7200",
    ("flatten", "equation_latex"): r"a_n = x_{i,j,c}, \quad n = 32 (15 i + j) + c",
    (
        "dense",
        "params_latex",
    ): r"\left(n_{in} + 1\right) n_{out} = \left(7200 + 1\right) \cdot 10 = 72{,}010",
    ("dense", "shape_latex"): "10",
    (
        "dense",
        "equation_latex",
    ): r"a = \mathrm{softmax}(z), \quad z_{j} = b_j + \sum_{i=0}^{7199} W_{j,i}\, x_i, \quad "
    r"j = 0, \dots, 9",
}


# The two equations issue 11 found wrong. Filter q of a grouped convolution reads only the
# channels of its group; a separable convolution's depthwise step defines all c_in M channels
# that the pointwise sum reads.
FIXED = {
    "grouped": r"a_{i,j,q} = \mathrm{relu}\!\left(b_q + \sum_{u=0}^{2} \sum_{v=0}^{2} "
    r"\sum_{c=0}^{2} W_{u,v,c,q}\, x_{i + u,\, j + v,\, 3g + c}\right) \quad "
    r"(g = \lfloor q / 2 \rfloor: \text{the group of filter } q\text{, which reads input "
    r"channels } 3 g, \dots, 3 g + 2)",
    "separable": r"a^{\mathrm{dw}}_{i,j,3c+q'} = \sum_{u=0}^{2} \sum_{v=0}^{2} "
    r"W^{\mathrm{dw}}_{u,v,c,q'}\, x_{i + u - 1,\, j + v - 1,\, c}, \quad q' = 0, \dots, 2, \qquad "
    r"a_{i,j,q} = b_q + \sum_{c'=0}^{17} W^{\mathrm{pw}}_{c',q}\, a^{\mathrm{dw}}_{i,j,c'} \quad "
    r"(x = 0 \text{ outside the input: zero "
    r"padding})",
}


@pytest.fixture(scope="module")
def derived():
    import keras

    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.Conv2D(32, (3, 3), activation="relu", name="conv"),
            L.BatchNormalization(name="bn"),
            L.MaxPooling2D(2, name="pool"),
            L.Flatten(name="flatten"),
            L.Dense(10, activation="softmax", name="dense"),
        ]
    )
    return {layer.record.name: layer for layer in derive_model(describe_model(model)).layers}


def _diff(expected: str, actual: str) -> str:
    """A unified diff, one LaTeX term per line so the change stands out."""

    def split(text: str) -> list[str]:
        return text.replace(" = ", "\n= ").replace(r",\quad ", ",\\quad\n").splitlines()

    return "\n".join(
        difflib.unified_diff(split(expected), split(actual), "golden", "derived", lineterm="")
    )


@pytest.mark.parametrize("layer, field", list(GOLDEN), ids=[f"{a}-{b}" for a, b in GOLDEN])
def test_latex_matches_golden(derived, layer, field):
    actual = getattr(derived[layer], field)
    expected = GOLDEN[(layer, field)]
    if actual != expected:
        pytest.fail(f"{layer}.{field} differs from its golden string:\n{_diff(expected, actual)}")


@pytest.fixture(scope="module")
def fixed():
    import keras

    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model

    L = keras.layers
    x = keras.Input((8, 8, 6))
    grouped = L.Conv2D(4, 3, groups=2, activation="relu", name="grouped")(x)
    separable = L.SeparableConv2D(4, 3, depth_multiplier=3, padding="same", name="separable")(x)
    model = keras.Model(x, [grouped, separable])
    return {layer.record.name: layer for layer in derive_model(describe_model(model)).layers}


@pytest.mark.parametrize("layer", list(FIXED))
def test_fixed_equations_match_golden(fixed, layer):
    actual, expected = fixed[layer].equation_latex, FIXED[layer]
    if actual != expected:
        pytest.fail(f"{layer} differs from its golden string:\n{_diff(expected, actual)}")
