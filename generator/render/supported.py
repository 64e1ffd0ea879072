"""The "Supported layers" page: each layer type the generator derives, and its PyTorch twin."""

from __future__ import annotations

from generator.layers.registry import handler_for, supported_layers

NO_HANDLER = "(no derivation: its page shows Keras's own count)"


def supported_layers_page(heading_level: int = 1) -> str:
    """The page in Markdown: one row per Keras class name with its handler's summary.

    Read from the handler registry (`generator.layers.registry`) and the PyTorch translation
    table (`generator.torch.registry`), so it lists exactly what the generator knows.
    """
    import generator.layers  # noqa: F401  (fills the handler registry)
    from generator.torch import translated_layers

    h = "#" * heading_level
    translated = set(translated_layers())
    derived = supported_layers()
    rows = [
        "| Keras layer | What it computes | PyTorch |",
        "|---|---|:-:|",
    ]
    for name in sorted(set(derived) | translated):
        handler = handler_for(name)
        summary = handler.summary if handler else NO_HANDLER
        rows.append(f"| `{name}` | {summary} | {'yes' if name in translated else 'no'} |")
    return (
        f"{h} Supported layers\n\n"
        f"The generator derives the shapes, parameter counts and equation of {len(derived)} "
        f"Keras layer types, and translates {len(translated)} to PyTorch (the *PyTorch* tab of "
        "a model page). A model with any other layer still gets its page, with Keras's own "
        "count for that layer.\n\n" + "\n".join(rows) + "\n"
    )
