"""The Keras frontend: model graphs, inbound names, input/output records, code lines, errors."""

from __future__ import annotations

import pytest

from generator.exceptions import ModelError

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def _describe(model, **kwargs):
    from generator.model.frontend import describe_model

    return describe_model(model, **kwargs)


def _wiring(graph):
    return [(r.name, r.type, r.inbound) for r in graph.layers]


def test_sequential(keras):
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3), name="image"),
            L.Conv2D(4, 3, activation="relu", name="conv"),
            L.MaxPooling2D(name="pool"),
            L.Flatten(name="flat"),
            L.Dense(10, name="out"),
        ],
        name="seq",
    )
    graph = _describe(model)
    assert (graph.name, graph.type) == ("seq", "Sequential")
    assert _wiring(graph) == [
        ("conv", "Conv2D", ("image",)),
        ("pool", "MaxPooling2D", ("conv",)),
        ("flat", "Flatten", ("pool",)),
        ("out", "Dense", ("flat",)),
    ]
    assert [(t.name, t.shape) for t in graph.inputs] == [("image", (None, 8, 8, 3))]
    assert [(t.name, t.shape) for t in graph.outputs] == [("out", (None, 10))]
    for record in graph.layers:
        layer = model.get_layer(record.name)
        assert record.output_shape == tuple(layer.output.shape)
        assert record.framework_params == layer.count_params()
    conv = graph.layer("conv")
    assert [(w.name, w.shape, w.trainable) for w in conv.weights] == [
        ("kernel", (3, 3, 3, 4), True),
        ("bias", (4,), True),
    ]
    assert graph.framework_params == model.count_params()


def test_functional_with_branches(keras):
    L = keras.layers
    x = keras.Input((6,), name="x")
    left = L.Dense(4, name="left")(x)
    right = L.Dense(4, name="right")(x)
    merged = L.Concatenate(name="cat")([left, right])
    out = L.Dense(1, name="y")(merged)
    graph = _describe(keras.Model(x, out))
    assert _wiring(graph) == [
        ("left", "Dense", ("x",)),
        ("right", "Dense", ("x",)),
        ("cat", "Concatenate", ("left", "right")),
        ("y", "Dense", ("cat",)),
    ]
    assert graph.layer("cat").input_shapes == ((None, 4), (None, 4))
    assert graph.layer("cat").output_shape == (None, 8)


def test_several_inputs_and_outputs(keras):
    L = keras.layers
    a, b = keras.Input((3,), name="a"), keras.Input((5, 2), name="b")
    fa = L.Dense(4, name="fa")(a)
    fb = L.Flatten(name="fb")(b)
    joined = L.Concatenate(name="joined")([fa, fb])
    head1 = L.Dense(2, name="head1")(joined)
    head2 = L.Dense(1, activation="sigmoid", name="head2")(joined)
    model = keras.Model([a, b], [head1, head2], name="two_heads")
    graph = _describe(model)
    assert [(t.name, t.shape) for t in graph.inputs] == [("a", (None, 3)), ("b", (None, 5, 2))]
    assert [(t.name, t.shape) for t in graph.outputs] == [
        ("head1", (None, 2)),
        ("head2", (None, 1)),
    ]
    assert graph.output_layers == ("head1", "head2")
    assert graph.layer("joined").inbound == ("fa", "fb")
    names = [r.name for r in graph.layers]
    for record in graph.layers:  # every layer follows the layers feeding it
        for parent in record.inbound:
            assert parent in ("a", "b") or names.index(parent) < names.index(record.name)


def test_nested_sequential_and_functional(keras):
    L = keras.layers
    inner_seq = keras.Sequential(
        [keras.Input((4,)), L.Dense(5, name="d1"), L.Dense(2, name="d2")], name="inner_seq"
    )
    fi = keras.Input((2,), name="fi")
    inner_fun = keras.Model(fi, L.Dense(3, name="f1")(fi), name="inner_fun")
    x = keras.Input((4,), name="x")
    model = keras.Model(x, inner_fun(inner_seq(x)), name="outer")
    graph = _describe(model, with_weights=True)
    assert _wiring(graph) == [
        ("inner_seq", "Sequential", ("x",)),
        ("inner_fun", "Functional", ("inner_seq",)),
    ]
    seq, fun = graph.layer("inner_seq"), graph.layer("inner_fun")
    assert [r.name for r in seq.children.layers] == ["d1", "d2"]
    assert [r.name for r in fun.children.layers] == ["f1"]
    assert fun.children.inputs[0].name == "fi"
    assert (seq.framework_params, fun.framework_params) == (37, 9)
    assert seq.code == "Sequential(...)"
    # Weights of nested layers are read under their own layer names.
    assert graph.weight_values[("d1", "kernel")].shape == (4, 5)
    assert graph.weight_values[("f1", "bias")].shape == (3,)


def test_shared_layer_is_two_calls_sharing_weights(keras):
    L = keras.layers
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = L.Dense(3, name="shared")
    out = L.Add(name="add")([shared(a), shared(b)])
    model = keras.Model([a, b], out)
    graph = _describe(model, with_weights=True)
    assert _wiring(graph) == [
        ("shared", "Dense", ("a",)),
        ("shared@1", "Dense", ("b",)),
        ("add", "Add", ("shared", "shared@1")),
    ]
    assert [r.shares for r in graph.layers] == ["", "shared", ""]
    assert graph.framework_params == model.count_params() == 15
    assert graph.weight_values[("shared@1", "kernel")] is graph.weight_values[("shared", "kernel")]


def test_multi_output_call_and_initial_state(keras):
    L = keras.layers
    enc, dec = keras.Input((5, 3), name="enc"), keras.Input((4, 3), name="dec")
    _, h, c = L.LSTM(6, return_state=True, name="encoder")(enc)
    out = L.LSTM(6, name="decoder")(dec, initial_state=[h, c])
    graph = _describe(keras.Model([enc, dec], out))
    encoder, decoder = graph.layers
    assert encoder.output_shapes == ((None, 6),) * 3
    assert encoder.output_names == ("output", "state h", "state c")
    assert decoder.inbound == ("dec", "encoder:1", "encoder:2")


def test_loaded_bidirectional_keeps_both_directions(keras, tmp_path):
    L = keras.layers
    # Named, so Keras's session-wide counters (another test's LSTM) cannot rename it.
    keras.backend.clear_session()
    lstm = L.LSTM(2, name="lstm")
    model = keras.Sequential([keras.Input((5, 3)), L.Bidirectional(lstm, name="bi")])
    model.save(tmp_path / "bi.keras")
    for m in (model, keras.saving.load_model(tmp_path / "bi.keras", compile=False)):
        names = [w.name for w in _describe(m).layers[0].weights]
        assert names == [
            f"{d}_lstm/lstm_cell/{w}"
            for d in ("forward", "backward")
            for w in ("kernel", "recurrent_kernel", "bias")
        ]


def test_unbuilt_sequential_is_a_clear_error(keras):
    model = keras.Sequential([keras.layers.Dense(3)], name="no_input")
    with pytest.raises(ModelError, match=r"'no_input' is not built.*Input"):
        _describe(model)


def test_subclassed_model_is_a_clear_error(keras):
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__(name="tiny")
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    model(keras.ops.ones((1, 3)))
    with pytest.raises(ModelError, match=r"'tiny' is a subclassed model"):
        _describe(model)


CODE_LINES = [
    (
        lambda L: L.Conv2D(32, (3, 3), activation="relu"),
        (8, 8, 3),
        'Conv2D(32, (3, 3), activation="relu")',
    ),
    (lambda L: L.Dense(10), (4,), "Dense(10)"),
    (
        lambda L: L.Dense(10, use_bias=False, activation="softmax"),
        (4,),
        'Dense(10, activation="softmax", use_bias=False)',
    ),
    (lambda L: L.Bidirectional(L.LSTM(8)), (5, 3), "Bidirectional(LSTM(8))"),
    (lambda L: L.TimeDistributed(L.Dense(4)), (5, 3), "TimeDistributed(Dense(4))"),
    (lambda L: L.MaxPooling2D(2), (8, 8, 3), "MaxPooling2D((2, 2))"),
    (lambda L: L.Embedding(100, 16), (7,), "Embedding(100, 16)"),
]


@pytest.mark.parametrize("make, shape, expected", CODE_LINES, ids=[c[2] for c in CODE_LINES])
def test_code_line(keras, make, shape, expected):
    x = keras.Input(shape)
    layer = make(keras.layers)
    graph = _describe(keras.Model(x, layer(x)))
    assert graph.layers[0].code == expected
