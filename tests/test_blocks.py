"""Repeated blocks found in real models' graphs, and folded in the architecture table.

The reference for what a block is: the names Keras's own applications give their layers
(`conv3_block2_...`, `block_7_...`), which the detection never reads; the reference for the
counts: Keras's `count_params()`. Every model is saved to `.keras` and loaded back.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """`loaded(build)`: the model `build()` makes, saved to `.keras` and loaded back; once per
    module for each builder (the tests only read the models)."""
    import keras

    models = {}

    def get(build):
        if build not in models:
            model = build()
            path = tmp_path_factory.mktemp("blocks") / f"{model.name}.keras"
            model.save(path)
            models[build] = keras.models.load_model(path)
        return models[build]

    return get


def _residual():
    import keras

    L = keras.layers
    x = inputs = keras.Input((8, 8, 4), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    for _ in range(3):
        h = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        h = L.Conv2D(8, 3, padding="same")(h)
        x = L.Activation("relu")(L.Add()([h, x]))
    outputs = L.Dense(2)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="small_residual")


def _transformer():
    """Three encoder blocks of Keras layers: attention, add & norm, feed-forward, add & norm."""
    import keras

    L = keras.layers
    x = inputs = keras.Input((6, 16), name="tokens")
    for _ in range(3):
        attended = L.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
        x = L.LayerNormalization()(L.Add()([x, attended]))
        h = L.Dense(32, activation="relu")(x)
        x = L.LayerNormalization()(L.Add()([x, L.Dense(16)(h)]))
    return keras.Model(inputs, L.Dense(2)(L.GlobalAveragePooling1D()(x)), name="encoder")


def _mlp():
    import keras

    L = keras.layers
    layers = [keras.Input((6,)), L.Dense(16, activation="relu"), L.Dense(16, activation="relu")]
    return keras.Sequential([*layers, L.Dense(8, activation="relu"), L.Dense(1)], name="mlp")


def _resnet50():
    import keras

    return keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)


def _mobilenetv2():
    import keras

    return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10)


def _blocks_by_name(graph, pattern: str) -> list[list[str]]:
    """Keras's own blocks: consecutive runs of calls whose names match `pattern` alike."""
    groups: dict[str, list[str]] = {}
    for layer in graph.layers:
        match = re.match(pattern, layer.name)
        if match:
            groups.setdefault(match.group(0), []).append(layer.name)
    return list(groups.values())


#: model, Keras's name for a block, and which of its blocks are the folded copies (the ones
#: after the first copy of each run), as (stage, block) numbers from the application's source.
CASES = [
    (
        _resnet50,
        r"conv(\d)_block(\d+)_",
        {(2, 3), (3, 3), (3, 4), (4, 3), (4, 4), (4, 5), (4, 6), (5, 3)},
    ),
    (_mobilenetv2, r"block_(\d+)_", {(5,), (8,), (9,), (12,), (15,)}),
]


@pytest.mark.parametrize("build, pattern, folded", CASES, ids=["resnet50", "mobilenetv2"])
def test_applications_fold_keras_blocks(build, pattern, folded, loaded):
    from generator.model.frontend import describe_model
    from generator.render.blocks import repeated_blocks

    model = loaded(build)
    graph = describe_model(model)
    names = [layer.name for layer in graph.layers]
    runs = repeated_blocks(graph)
    copies = [[names[k] for k in run.copy(c)] for run in runs for c in range(1, run.count)]
    expected = [
        block
        for block in _blocks_by_name(graph, pattern)
        if tuple(int(g) for g in re.match(pattern, block[0]).groups()) in folded
    ]
    # ResNet's copies end with the block's `out`; each copy is exactly one of Keras's blocks.
    assert sorted(map(sorted, copies)) == sorted(map(sorted, expected))
    for run in runs:
        first = [re.sub(pattern, "", names[k]) for k in run.first]
        for c in range(1, run.count):
            assert [re.sub(pattern, "", names[k]) for k in run.copy(c)] == first


def test_small_residual_folds_its_repeated_block(loaded):
    from generator.model.frontend import describe_model
    from generator.render.blocks import Repeat, repeated_blocks

    graph = describe_model(loaded(_residual))
    # conv, then 3 x (conv, conv, add, relu): the first copy starts after the stem conv.
    assert [layer.type for layer in graph.layers[1:5]] == ["Conv2D", "Conv2D", "Add", "Activation"]
    assert repeated_blocks(graph) == (Repeat(start=1, length=4, count=3),)


def test_transformer_stack_folds_its_blocks(loaded):
    from generator.model.frontend import describe_model
    from generator.render.blocks import Repeat, repeated_blocks

    graph = describe_model(loaded(_transformer))
    assert (
        graph.layers[0].type == "MultiHeadAttention"
        and graph.layers[7].type == graph.layers[0].type
    )
    assert repeated_blocks(graph) == (Repeat(start=0, length=7, count=3),)


def test_plain_mlp_folds_nothing(loaded):
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model
    from generator.render.blocks import repeated_blocks
    from generator.render.markdown import architecture_table

    graph = describe_model(loaded(_mlp))
    assert repeated_blocks(graph) == ()
    assert "???" not in architecture_table(derive_model(graph))


def _counts(table: str) -> list[int]:
    """The Count column of every numbered row of a Markdown architecture table."""
    counts = []
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells and re.fullmatch(r"\d+(–\d+)?", cells[0]):
            counts.append(int(cells[-1].split(" ")[0].replace(",", "")))
    return counts


@pytest.mark.parametrize(
    "build", [_resnet50, _mobilenetv2, _residual, _transformer], ids=lambda b: b.__name__
)
def test_folded_table_counts_add_up_to_keras(build, loaded):
    from generator.layers.derive import derive_model
    from generator.model.frontend import describe_model
    from generator.render.markdown import architecture_table

    model = loaded(build)
    math = derive_model(describe_model(model))
    table = architecture_table(math)
    shown, _, hidden = table.partition("??? note")
    assert hidden.startswith(f' naf-all-layers "All {len(model.layers) - 1} layers"')
    assert sum(_counts(shown)) == model.count_params()
    assert sum(_counts(hidden)) == model.count_params()
    assert len(_counts(hidden)) == len(model.layers) - 1  # every call, input layer aside
    assert len(_counts(shown)) < len(_counts(hidden))
    assert "more block" in shown
    assert "$" not in hidden  # shapes in plain text: nothing for MathJax in a closed note


@pytest.mark.parametrize("build", [_resnet50, _mobilenetv2], ids=["resnet50", "mobilenetv2"])
def test_each_folded_call_is_keras_s_call_one_block_earlier(build, loaded):
    """What the folded rows claim ("the steps of layers 19-28, every index shifted by 10"),
    checked in Keras's own config: same class, same config (names aside), and inputs that are
    the earlier call's inputs shifted by one block."""
    from generator.model.frontend import describe_model
    from generator.render.blocks import repeated_blocks

    model = loaded(build)
    graph = describe_model(model)
    order = {layer.name: i for i, layer in enumerate(graph.layers)}
    config = {layer["name"]: layer for layer in model.get_config()["layers"]}

    def sources(name: str) -> list:
        found = re.findall(r"'keras_history': \['([^']+)'", repr(config[name]["inbound_nodes"]))
        return [order.get(source, source) for source in found]

    def settings(name: str) -> dict:
        return {k: v for k, v in config[name]["config"].items() if k != "name"}

    runs = repeated_blocks(graph)
    assert runs
    for run in runs:
        for k in run.folded:
            now, before = graph.layers[k].name, graph.layers[k - run.length].name
            assert config[now]["class_name"] == config[before]["class_name"]
            assert settings(now) == settings(before), now
            shifted = [s + run.length if isinstance(s, int) else s for s in sources(before)]
            assert sources(now) == shifted, now


def test_layered_form_folds_and_keeps_every_step_in_its_note(loaded):
    from generator.equation.analyze import analyze_model
    from generator.render.equation_page import equation_section

    model = loaded(_residual)
    math = analyze_model(model)
    assert math.equation is not None and not math.equation.closed_form
    text = equation_section(math.equation, math)
    shown, _, note = text.partition('??? note naf-all-layers "All 15 layers, step by step"')
    n = len(model.layers) - 1
    assert n == 15
    # Layers 2-5 are the block, 6-13 its two later copies, folded into one row of steps.
    for index in range(1, n + 1):
        assert (f"a^{{({index})}} &=" in shown) == (index not in range(6, 14)), index
        assert f"a^{{({index})}} &=" in note
    assert r"l = 6\text{–}13 &: \quad \text{the steps of layers } 2\text{–}5" in shown
    assert "2 more times, every index shifted by 4 each time" in shown
    assert equation_section(math.equation) == equation_section(math.equation, None)
