"""The PyTorch backend: `course torch` writes a model's PyTorch twin; model pages show it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from generator.exceptions import CourseError
from generator.layers.derive import DerivedModel
from generator.torch import WEIGHTS_FILE, TorchModule, TranslationError, translate_model


def write_torch_package(model: Any, outdir: Path) -> Path:
    """Write `outdir/model.py` and its weights for a built Keras model; returns the model.py path.

    Raises:
        TranslationError: a layer has no PyTorch translation (the message names it).
    """
    from generator.model.frontend import describe_model

    module = translate_model(describe_model(model, with_weights=True))
    return write_module(module, Path(outdir))


def write_module(module: TorchModule, outdir: Path) -> Path:
    """Write a translated model's source and weights into `outdir`."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CourseError(f"{outdir}: cannot create the output directory ({error})") from error
    np.savez(outdir / WEIGHTS_FILE, **{k: np.asarray(v) for k, v in module.state.items()})
    path = outdir / "model.py"
    path.write_text(module.source, encoding="utf-8")
    return path


_DIFFERENCES = (
    (
        {"SimpleRNN", "GRU", "LSTM", "Bidirectional"},
        "PyTorch's recurrent layers add a second bias vector to each gate (`bias_hh`); Keras's "
        "LSTM and SimpleRNN have one, so the translation sets the second to zero.",
    ),
    (
        {"BatchNormalization", "LayerNormalization", "GroupNormalization"},
        "Where Keras leaves out the scale or the shift, PyTorch's affine normalization still has "
        "both; the translation fixes the missing one at 1 or 0.",
    ),
    (
        {"Normalization"},
        "Keras's Normalization also counts the samples it was adapted on; the count plays no part "
        "in the output.",
    ),
)


def torch_tab_markdown(math: DerivedModel) -> str | None:
    """The body of a model page's PyTorch tab: the generated source and, per layer, PyTorch's
    parameter counts beside Keras's; `None` when some layer has no translation."""
    try:
        module = translate_model(math.graph)
    except TranslationError:
        return None
    rows = [
        "| Layer | Keras type | Keras parameters | PyTorch parameters | PyTorch buffers |",
        "|---|---|--:|--:|--:|",
    ]
    for count in module.counts:
        rows.append(
            f"| `{count.name}` | {count.type} | {count.keras:,} | {count.torch_params:,} "
            f"| {count.torch_buffers:,} |"
        )
    keras = sum(c.keras for c in module.counts)
    params = sum(c.torch_params for c in module.counts)
    buffers = sum(c.torch_buffers for c in module.counts)
    rows.append(f"| **Total** | | **{keras:,}** | **{params:,}** | **{buffers:,}** |")
    differ = {c.type for c in module.counts if c.torch_params + c.torch_buffers != c.keras}
    notes = [note for types, note in _DIFFERENCES if differ & types]
    if buffers:
        notes.append(
            "Batch normalization's moving mean and variance are weights in Keras (not "
            "trainable) and *buffers* in PyTorch, so `sum(p.numel() for p in "
            "model.parameters())` leaves them out."
        )
    source = module.source.rstrip("\n")
    return (
        "\n".join(
            [
                "```python",
                source,
                "```",
                "",
                *rows,
                "",
                *(f"{note}\n" for note in notes),
            ]
        ).rstrip("\n")
        + "\n"
    )
