"""PyTorch as the reference for a model read by the PyTorch frontend; torch is imported lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from generator.exceptions import CourseError
from generator.model.graph import ModelGraph
from generator.model.reference import Reference


def torch_reference(program: Any, graph: ModelGraph) -> Reference:
    """PyTorch's own outputs for an exported program (`torch.export.ExportedProgram`)."""
    import torch

    from generator.model.torch_probe import probe_exported

    module = program.module()

    def predict(inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        tensors = []
        for array, tensor in zip(inputs, graph.inputs, strict=True):
            shape = tuple(-1 if d is None else d for d in tensor.shape)
            tensors.append(torch.from_numpy(np.ascontiguousarray(array)).reshape(shape))
        with torch.no_grad():
            out = module(*tensors)
        outs = out if isinstance(out, list | tuple) else [out]
        return [o.detach().numpy() for o in outs]

    return Reference(
        name="PyTorch",
        predict=predict,
        probe=lambda sample, seed: probe_exported(program, graph, sample, seed=seed),
    )


def torch_model(
    model: Any, sample: Any = None, name: str | None = None
) -> tuple[ModelGraph, Reference]:
    """The IR of a PyTorch model and PyTorch as its reference.

    Args:
        model: a `torch.export.ExportedProgram`, or an `nn.Module` with `sample` as its
            example input (one array or tensor, or a list for several inputs), exported here
            in eval mode with the batch axis left free.
        sample: the example input (required for a module).
        name: the model's name (the module's class name when omitted).
    """
    import torch

    from generator.model.torch_frontend import describe_exported

    if isinstance(model, torch.nn.Module):
        if sample is None:
            raise CourseError(
                f"{type(model).__name__}: a PyTorch module needs an example input to be read "
                "(publish(module, sample=x) with x shaped as forward() takes it)"
            )
        name = name or type(model).__name__
        model = export_module(model, sample)
    graph = describe_exported(model, name=name or "model")
    return graph, torch_reference(model, graph)


def export_module(module: Any, sample: Any) -> Any:
    """`torch.export.export` of `module` in eval mode on `sample`, the batch axis dynamic."""
    import torch

    parts = list(sample) if isinstance(sample, list | tuple) else [sample]
    args = tuple(torch.as_tensor(np.asarray(p)) for p in parts)
    batch = torch.export.Dim("batch", min=1)
    shapes = tuple({0: batch} for _ in args)
    module.eval()
    try:
        return torch.export.export(module, args, dynamic_shapes=shapes)
    except Exception:  # noqa: BLE001 - a model whose batch cannot be free is read at this batch
        return torch.export.export(module, args)
