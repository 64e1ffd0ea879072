"""The linear collapse: a network whose activations are all linear is one affine map."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from generator.equation.algebra import SympyAlgebra
from generator.equation.latex import EquationLatexPrinter, broken_lines, output_names
from generator.layers.common import INFERENCE_IDENTITY, aligned
from generator.model.graph import ModelGraph

#: Layers a chain of Dense layers may hold and still multiply out to `W = W^{(L)} ... W^{(1)}`.
CHAIN_LAYERS = INFERENCE_IDENTITY | {"Dense", "Flatten", "Activation"}
MATRIX_LIMIT = 8  # print W as a matrix up to this many rows and columns


@dataclass(frozen=True)
class Collapse:
    """`\\hat{y} = W x + b` (column vectors, as on every page), read off the closed form, checked.

    Attributes:
        weights: W, shape (n_outputs, n_inputs): the transpose of a Keras kernel's layout.
        bias: b, shape (n_outputs,).
        latex: the collapsed formula with rounded numbers (and W, b as matrices when small).
        symbolic_latex: `W = W^{(2)} W^{(1)}`, `b = W^{(2)} b^{(1)} + b^{(2)}` for a chain of
            Dense layers (`W^{(l)}` the transposed kernel of layer `l`); empty for other graphs.
        max_abs_error: largest difference of `W x + b` from `model.predict` on the sample.
    """

    weights: np.ndarray = field(compare=False)
    bias: np.ndarray = field(compare=False)
    latex: str
    symbolic_latex: str
    max_abs_error: float | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """`W x + b` for each row `x` of a batch (shape (batch, n_inputs))."""
        return np.asarray(x, dtype=np.float64) @ self.weights.T + self.bias


def affine_collapse(
    function: Callable[[np.ndarray], np.ndarray],
    graph: ModelGraph,
    inputs: Sequence[sp.Symbol],
    printer: EquationLatexPrinter,
) -> Collapse:
    """Read `W` and `b` off an affine `function` (`b = f(0)`, column `i` of W is `f(e_i) - b`)."""
    n = len(inputs)
    bias = function(np.zeros((1, n)))[0]
    weights = (function(np.eye(n)) - bias).T
    exprs = SympyAlgebra().affine(list(inputs), weights.T, bias)
    lines = []
    for name, expr in zip(output_names(len(exprs)), exprs, strict=False):
        lines += broken_lines(name, expr, printer)
    latex = aligned(lines, "\n")
    if max(weights.shape) <= MATRIX_LIMIT:
        latex += (
            r"\qquad W = "
            + _matrix(weights, printer)
            + r",\quad b = "
            + _matrix(bias[:, None], printer)
        )
    return Collapse(weights=weights, bias=bias, latex=latex, symbolic_latex=_symbolic(graph))


def _matrix(array: np.ndarray, printer: EquationLatexPrinter) -> str:
    rows = [" & ".join(printer._print(sp.Float(float(v))) for v in row) for row in array]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def _symbolic(graph: ModelGraph) -> str:
    r"""The product formula for a chain of Dense layers (layer numbers as in the layered form).

    `y = W^{(L)} (\dots (W^{(1)} x + b^{(1)}) \dots) + b^{(L)}` multiplies out to
    `W = W^{(L)} \cdots W^{(1)}` and `b = \sum_k W^{(L)} \cdots W^{(k+1)} b^{(k)}`.
    """
    if any(layer.type not in CHAIN_LAYERS or len(layer.inbound) > 1 for layer in graph.layers):
        return ""
    dense = [(i, layer) for i, layer in enumerate(graph.layers, start=1) if layer.type == "Dense"]
    if not dense:
        return ""
    product = " ".join(f"W^{{({i})}}" for i, _ in reversed(dense))
    terms = []
    for k, (i, layer) in enumerate(dense):
        if not layer.attrs.get("use_bias", True):
            continue
        later = " ".join(f"W^{{({j})}}" for j, _ in reversed(dense[k + 1 :]))
        terms.append((f"{later} " if later else "") + f"b^{{({i})}}")
    bias = " + ".join(terms) if terms else "0"
    return rf"\hat{{y}} = W x + b, \quad W = {product}, \quad b = {bias}"
