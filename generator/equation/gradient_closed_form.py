"""The closed form of `dL/dW` for a small MLP: one expression per weight, printed two ways.

For a chain of Dense layers the chain rule closes: `\\delta^{(L)}` at the output from the loss,
`\\delta^{(l)} = (W^{(l+1)\\top} \\delta^{(l+1)}) \\odot f_l'(z^{(l)})` going in, and
`dL/dW^{(l)} = \\sum_n \\delta^{(l)} a^{(l-1)\\top}`. Substituting every `\\delta` gives each
gradient as one expression of the forward values `z^{(l)}`, `a^{(l)}` and the weights. The
expression is a small tree (`MatExpr`) with two printers: LaTeX (column vectors, per item, as the
pages write `W x + b`) and NumPy (a batch of rows, Keras's kernels `K = W^\\top`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from generator.equation.losses import Loss
from generator.layers.derive import DerivedModel
from generator.model.activations import ACTIVATIONS, activation_latex, layer_activation

#: Largest chain written out in closed form.
MOST_LAYERS = 4


class MatExpr:
    """A node of a gradient expression: `latex()` per item, `numpy()` over the batch's rows."""

    compound = True

    def latex(self) -> str:
        raise NotImplementedError

    def numpy(self) -> str:
        raise NotImplementedError

    def wrapped(self) -> str:
        return rf"\left({self.latex()}\right)" if self.compound else self.latex()


@dataclass(frozen=True)
class Leaf(MatExpr):
    """A value written as it is: a forward value or the target (`z^{(1)}` / `z1`), or the
    loss's gradient at the output as its row writes it (`c (a - y)`)."""

    tex: str
    code: str
    compound = False

    def latex(self) -> str:
        return self.tex

    def numpy(self) -> str:
        return self.code


@dataclass(frozen=True)
class BackThrough(MatExpr):
    """`W^{(l)\\top} v`: a gradient sent back through layer `l`'s weights (rows: `v @ K.T`)."""

    layer: int
    kernel: str
    v: MatExpr

    def latex(self) -> str:
        return rf"W^{{({self.layer})\top}} {self.v.wrapped()}"

    def numpy(self) -> str:
        return f"({self.v.numpy()}) @ {self.kernel}.T"


@dataclass(frozen=True)
class Hadamard(MatExpr):
    """`u \\odot f'(z)`: entry by entry."""

    u: MatExpr
    v: MatExpr

    def latex(self) -> str:
        return rf"{self.u.wrapped()} \odot {self.v.latex()}"

    def numpy(self) -> str:
        return f"({self.u.numpy()}) * ({self.v.numpy()})"


@dataclass(frozen=True)
class Derivative(MatExpr):
    """`f'(z^{(l)})`, with `f'` the NumPy function the source defines."""

    name: str
    arg: Leaf
    compound = False

    def latex(self) -> str:
        return rf"{activation_latex(self.name)}'\!\left({self.arg.latex()}\right)"

    def numpy(self) -> str:
        return f"{self.name}_prime({self.arg.numpy()})"


@dataclass(frozen=True)
class Softmax(MatExpr):
    """Softmax's Jacobian times `g`: `a \\odot (g - (a^\\top g) 1)`."""

    a: Leaf
    g: MatExpr

    def latex(self) -> str:
        g = self.g.wrapped()
        return (
            rf"{self.a.latex()} \odot \left({g} - ({self.a.latex()}^\top {g})\,\mathbf{{1}}\right)"
        )

    def numpy(self) -> str:
        g = self.g.numpy()
        return f"{self.a.numpy()} * (({g}) - ({self.a.numpy()} * ({g})).sum(-1, keepdims=True))"


@dataclass(frozen=True)
class Gradient:
    """`dL/dW^{(l)}` (or `dL/db^{(l)}`) in closed form: its LaTeX and its NumPy expression
    (of Keras's layout: `dL/dK = (dL/dW)^\\top` for a kernel)."""

    layer: str
    weight: str
    latex: str
    numpy: str


@dataclass(frozen=True)
class ClosedForm:
    """Every weight's gradient of an MLP in closed form, and NumPy source that computes them:
    `gradients(x, y, **weights) -> {"layer/weight": array}`, the forward pass first."""

    gradients: tuple[Gradient, ...]
    forward_latex: tuple[str, ...]
    source: str

    def function(self):
        namespace: dict[str, Any] = {"np": np}
        exec(compile(self.source, "<mlp gradients>", "exec"), namespace)  # noqa: S102
        return namespace["gradients"]


def _numpy_derivative(name: str) -> str:
    """`def f_prime(z)` from the sympy derivative of the table's definition."""
    import sympy as sp
    from sympy.printing.numpy import NumPyPrinter

    class Printer(NumPyPrinter):
        def _print_Heaviside(self, expr):  # TensorFlow: relu'(0) = 0
            return f"np.heaviside({self._print(expr.args[0])}, 0.0)"

    z = sp.Symbol("z", real=True)
    d = sp.diff(ACTIVATIONS[name].sympy_form(z), z)
    body = Printer().doprint(d).replace("numpy.", "np.")
    if "np." not in body and "z" not in body:
        body = f"np.full_like(z, {body})"
    return f"def {name}_prime(z):\n    return {body}\n"


def _output_gradient(loss: Loss, a: Leaf, softmax: bool) -> MatExpr | None:
    if loss.name == "mean_squared_error":
        return Leaf(rf"\frac{{2}}{{B}}\left({a.tex} - y\right)", f"2.0 * ({a.code} - y) / y.size")
    if loss.name == "categorical_crossentropy" and softmax:
        return Leaf(rf"\frac{{1}}{{B}}\left({a.tex} - y\right)", f"({a.code} - y) / len(y)")
    return None


def mlp_closed_form(math: DerivedModel, loss: Loss) -> ClosedForm | None:
    """The closed form for a chain of at most `MOST_LAYERS` Dense layers on vectors, with
    elementwise activations (softmax last, with cross-entropy); `None` for any other model."""
    graph = math.graph
    layers = [layer.record for layer in math.layers]
    if not graph.is_chain or not 1 <= len(layers) <= MOST_LAYERS:
        return None
    if any(r.type != "Dense" or len(r.input_shape) != 2 for r in layers):
        return None
    acts = [layer_activation(r).name for r in layers]
    if any(a not in ACTIVATIONS or ACTIVATIONS[a].sympy is None for a in acts[:-1]):
        return None
    last = acts[-1]
    softmax = last == "softmax"
    if not softmax and ACTIVATIONS.get(last, ACTIVATIONS["linear"]).sympy is None:
        return None
    kernels = [f"kernel_{k + 1}" for k in range(len(layers))]
    biases = [
        f"bias_{k + 1}" if r.attrs.get("use_bias", True) else "" for k, r in enumerate(layers)
    ]
    z = [Leaf(f"z^{{({k + 1})}}", f"z{k + 1}") for k in range(len(layers))]
    a = [Leaf("x", "x")] + [Leaf(f"a^{{({k + 1})}}", f"a{k + 1}") for k in range(len(layers))]
    g = _output_gradient(loss, a[-1], softmax)
    if g is None:
        return None
    # delta of the last layer, then inwards.
    n = len(layers)
    if softmax:
        delta: MatExpr = g if loss.name == "categorical_crossentropy" else Softmax(a[-1], g)
    elif last == "linear":
        delta = g
    else:
        delta = Hadamard(g, Derivative(last, z[-1]))
    deltas = [delta]
    for k in range(n - 2, -1, -1):
        back = BackThrough(k + 2, kernels[k + 1], deltas[0])
        deltas.insert(0, back if acts[k] == "linear" else Hadamard(back, Derivative(acts[k], z[k])))
    gradients = []
    for k, r in enumerate(layers):
        gradients.append(
            Gradient(
                r.name,
                "kernel",
                rf"\frac{{\partial \mathcal L}}{{\partial W^{{({k + 1})}}}} = "
                rf"\sum_n {deltas[k].wrapped()}\, {{{a[k].latex()}}}^\top",
                f"{a[k].code}.T @ ({deltas[k].numpy()})",
            )
        )
        if biases[k]:
            gradients.append(
                Gradient(
                    r.name,
                    "bias",
                    rf"\frac{{\partial \mathcal L}}{{\partial b^{{({k + 1})}}}} = "
                    rf"\sum_n {deltas[k].latex()}",
                    f"({deltas[k].numpy()}).sum(axis=0)",
                )
            )
    forward, lines = [], []
    for k in range(len(layers)):
        bias = f" + {biases[k]}" if biases[k] else ""
        lines.append(f"    z{k + 1} = {a[k].code} @ {kernels[k]}{bias}")
        tex_b = f" + b^{{({k + 1})}}" if biases[k] else ""
        forward.append(f"z^{{({k + 1})}} = W^{{({k + 1})}} {a[k].latex()}{tex_b}")
        if acts[k] == "softmax":
            e = f"np.exp(z{k + 1} - z{k + 1}.max(-1, keepdims=True))"
            lines.append(f"    a{k + 1} = {e} / {e}.sum(-1, keepdims=True)")
        else:
            lines.append(f"    a{k + 1} = {acts[k]}(z{k + 1})")
        forward.append(f"a^{{({k + 1})}} = {activation_latex(acts[k])}(z^{{({k + 1})}})")
    helpers = []
    for name in dict.fromkeys(acts):
        if name == "softmax":
            continue
        helpers.append(f"def {name}(z):\n    return {ACTIVATIONS[name].numpy}\n")
        if ACTIVATIONS[name].params:
            helpers[-1] = helpers[-1].replace(
                "(z):",
                "(z" + "".join(f", {k}={v!r}" for k, v in ACTIVATIONS[name].params.items()) + "):",
            )
        helpers.append(_numpy_derivative(name))
    args = ", ".join(w for pair in zip(kernels, biases, strict=True) for w in pair if w)
    returns = ",\n".join(f'        "{gr.layer}/{gr.weight}": {gr.numpy}' for gr in gradients)
    source = (
        "import numpy as np\n\n\n"
        + "\n\n".join(helpers)
        + f"\n\ndef gradients(x, y, {args}):\n"
        + "\n".join(lines)
        + f"\n    return {{\n{returns},\n    }}\n"
    )
    return ClosedForm(tuple(gradients), tuple(forward), source)


def closed_form_weights(math: DerivedModel) -> dict[str, np.ndarray]:
    """The keyword arguments `ClosedForm.function()` takes: `kernel_1`, `bias_1`, ..."""
    out = {}
    for k, layer in enumerate(math.layers):
        for w in layer.record.weights:
            out[f"{w.role}_{k + 1}"] = np.asarray(
                math.graph.weight_values[(layer.record.name, w.name)], dtype=np.float64
            )
    return out
