"""Every table in `generator/` keyed by layer type names names types the handler registry knows.

A type PyTorch translates, a figure draws or a backend treats specially needs a handler: without
one its page has no shape derivation, count formula or equation, and the table has drifted from
the registry (issue 19). Each row below is one such table; a new table keyed by layer types
belongs here too. No TensorFlow: the tables and the registry are plain data.
"""

from __future__ import annotations

import re

import pytest

import generator.layers  # noqa: F401  (fills the handler registry)
import generator.torch  # noqa: F401  (fills the translation table)
from generator.equation import build, collapse, layer_checks, layered
from generator.layers import normalization, recurrent, recurrent_system
from generator.layers.common import INFERENCE_IDENTITY
from generator.layers.registry import supported_layers
from generator.model import frontend, keras_attrs
from generator.model.activations import ACTIVATION_LAYERS
from generator.render.diagrams import examples
from generator.torch import core, writer
from generator.torch.registry import translated_layers

#: Types a table may name that are never a call of the graph: the Keras frontend turns an
#: `InputLayer` into a model input (`ModelGraph.inputs`), so no handler ever sees one.
NOT_CALLS = frozenset({"InputLayer"})

# (where, the layer type names the table holds)
TABLES = [
    ("generator.torch: translated_layers()", set(translated_layers())),
    ("generator/torch/core.py _OPERATORS", set(core._OPERATORS)),
    ("generator/torch/core.py _OPS", set(core._OPS)),
    (
        "generator/torch/writer.py _DIFFERENCES",
        set().union(*(types for types, _ in writer._DIFFERENCES)),
    ),
    ("generator/render/diagrams/examples.py POOLINGS", set(examples.POOLINGS)),
    ("generator/render/diagrams/examples.py Conv2D", {"Conv2D"}),
    ("generator/equation/layer_checks.py DRAWN", set(layer_checks.DRAWN)),
    ("generator/layers/common.py INFERENCE_IDENTITY", set(INFERENCE_IDENTITY)),
    ("generator/equation/build.py IDENTITY", set(build.IDENTITY)),
    ("generator/equation/build.py MERGE_TYPES", set(build.MERGE_TYPES)),
    ("generator/equation/build.py AFFINE_LAYERS", set(build.AFFINE_LAYERS)),
    ("generator/equation/build.py SUPPORTED", set(build.SUPPORTED)),
    ("generator/equation/collapse.py CHAIN_LAYERS", set(collapse.CHAIN_LAYERS)),
    ("generator/equation/layered.py _INFIX", set(layered._INFIX)),
    ("generator/model/frontend.py _OUTPUT_NAMES", set(frontend._OUTPUT_NAMES)),
    ("generator/model/activations.py ACTIVATION_LAYERS", set(ACTIVATION_LAYERS)),
    ("generator/layers/recurrent.py STATES", set(recurrent.STATES)),
    ("generator/layers/recurrent_system.py GATES", set(recurrent_system.GATES)),
    # Its keys are fold kinds: a type, or a type and a variant ("Normalization (invert)").
    (
        "generator/layers/normalization.py FOLDED",
        {kind.split(" (")[0] for kind in normalization.FOLDED},
    ),
]

# (where, a rule over type names: a prefix, a substring, a pattern) that must match a handled type
PATTERNS = [
    *(
        (f"generator/equation/layered.py POOLING {p!r}", re.compile(rf"^{p}"))
        for p in layered.POOLING
    ),
    *((f"generator/equation/layered.py RECURRENT {p!r}", re.compile(p)) for p in layered.RECURRENT),
    ("generator/model/keras_attrs.py _CONVOLUTIONS", keras_attrs._CONVOLUTIONS),
    ("generator/model/keras_attrs.py _POOLINGS", keras_attrs._POOLINGS),
]


@pytest.mark.parametrize("where, types", TABLES, ids=[t[0] for t in TABLES])
def test_every_type_a_table_names_has_a_handler(where, types):
    assert types, f"{where} is empty: has the table moved?"
    missing = sorted(types - set(supported_layers()) - NOT_CALLS)
    assert not missing, f"{where} names types with no handler: {missing}"


@pytest.mark.parametrize("where, pattern", PATTERNS, ids=[p[0] for p in PATTERNS])
def test_every_type_rule_matches_a_handled_type(where, pattern):
    assert any(pattern.search(name) for name in supported_layers()), (
        f"{where} matches no type with a handler"
    )


def test_not_calls_are_not_handled_types():
    """The exemption stays small and true: a type here with a handler would need no exemption."""
    assert not NOT_CALLS & set(supported_layers())
