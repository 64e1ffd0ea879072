"""Model diagrams against Keras: every layer once with Keras's output shape, every data edge drawn.

The references are Keras's own: `layer.output.shape` and the functional config's
`inbound_nodes`, on models saved to `.keras` and loaded back. The layout is checked for boxes that
overlap; pages are checked through MkDocs's own Markdown extensions (links reach their headings).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import markdown
import pytest

from generator.model.graph import LayerRecord, ModelGraph, TensorRecord
from generator.model.keras_attrs import keras_attrs
from generator.render.diagrams import graph_figure
from generator.render.diagrams.svg import esc

SVG = "{http://www.w3.org/2000/svg}"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
#: The site's Markdown extensions (mkdocs.yml) that matter for raw HTML and headings.
EXTENSIONS = [
    "admonition",
    "attr_list",
    "md_in_html",
    "tables",
    "toc",
    "pymdownx.details",
    "pymdownx.superfences",
    "pymdownx.arithmatex",
]


def _svgs(page: str, kind: str) -> list[ET.Element]:
    found = re.findall(rf'<svg [^>]*class="naf-{kind}".*?</svg>', page, flags=re.S)
    return [ET.fromstring(svg) for svg in found]


def _dims(shape) -> str:
    return "×".join("?" if d is None else str(d) for d in tuple(shape)[1:])


def _nodes(svg: ET.Element, cls: str = "naf-node") -> dict[str, list[ET.Element]]:
    nodes: dict[str, list[ET.Element]] = {}
    for g in svg.iter(f"{SVG}g"):
        if cls in (g.get("class") or "").split():
            nodes.setdefault(g.get("data-layer"), []).append(g)
    return nodes


def _keras_edges(model) -> set[tuple[str, str]]:
    """(source, target) pairs read from the functional config's `inbound_nodes`."""

    def histories(value):
        if isinstance(value, dict):
            history = value.get("config", {}).get("keras_history") if "config" in value else None
            if value.get("class_name") == "__keras_tensor__" and history:
                yield history[0]
            for item in value.values():
                yield from histories(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from histories(item)

    if type(model).__name__ == "Sequential":
        names = [_input_names(model)[0]] + [layer.name for layer in model.layers]
        return set(zip(names, names[1:], strict=False))
    edges = set()
    for layer in model.get_config()["layers"]:
        for source in histories(layer.get("inbound_nodes", [])):
            edges.add((source, layer["name"]))
    return edges


def _input_names(model) -> list[str]:
    return [t._keras_history.operation.name for t in model.inputs]


def _boxes(svg: ET.Element) -> list[tuple[str, float, float, float, float]]:
    """(layer, x, y, w, h) of every top-level box (groups inside nested models excluded)."""
    out = []
    for name, groups in _nodes(svg).items():
        for g in groups:
            r = g.find(f"{SVG}rect")
            out.append((name, *(float(r.get(k)) for k in ("x", "y", "width", "height"))))
    return out


def _check_every_layer_once(model, svg: ET.Element) -> None:
    nodes = _nodes(svg)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    inputs = [t._keras_history.operation for t in model.inputs]
    assert set(nodes) == {layer.name for layer in layers + inputs}
    for layer in layers + inputs:
        (g,) = nodes[layer.name]  # exactly once
        shapes = layer.output if isinstance(layer.output, list) else [layer.output]
        expected = ", ".join(_dims(t.shape) for t in shapes)
        assert g.get("data-shape") == expected, layer.name
        shown = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
        assert f"→ {expected}" in shown, (layer.name, shown)
    edges = {
        (g.get("data-from"), g.get("data-to"))
        for g in svg.iter(f"{SVG}g")
        if g.get("class") == "naf-edge"
    }
    assert edges == _keras_edges(model)
    assert svg.get("role") == "img"
    desc = svg.find(f"{SVG}desc").text
    assert svg.find(f"{SVG}title").text and all(layer.name in desc for layer in layers)


def _check_no_overlap(svg: ET.Element) -> None:
    boxes = sorted(_boxes(svg), key=lambda b: (b[2], b[1]))
    for i, (a, ax, ay, aw, ah) in enumerate(boxes):
        for b, bx, by, bw, _ in boxes[i + 1 :]:
            if by >= ay + ah:
                break
            assert bx >= ax + aw or ax >= bx + bw, f"{a} and {b} overlap"


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def _saved(keras, model, tmp_path):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    return keras.saving.load_model(path), path


@pytest.mark.slow
@pytest.mark.tensorflow
def test_resnet50_every_layer_once_with_its_shape(keras, tmp_path):
    from generator.model.frontend import describe_model

    model, _ = _saved(keras, keras.applications.ResNet50(weights=None), tmp_path)
    svg = ET.fromstring(graph_figure(describe_model(model)).svg())
    _check_every_layer_once(model, svg)
    _check_no_overlap(svg)
    assert len(_nodes(svg)) == len(model.layers) == 177


@pytest.mark.slow
@pytest.mark.tensorflow
def test_two_inputs_two_outputs(keras, tmp_path):
    from generator.model.frontend import describe_model

    a, b = keras.Input((8,), name="a"), keras.Input((4, 2), name="b")
    x = keras.layers.Dense(6, activation="relu", name="da")(a)
    y = keras.layers.Dense(6, name="db")(keras.layers.Flatten(name="flat")(b))
    merged = keras.layers.Concatenate(name="cat")([x, y])
    residual = keras.layers.Add(name="add")([x, keras.layers.Dense(6, name="skip")(merged)])
    out1 = keras.layers.Dense(1, name="price")(merged)
    out2 = keras.layers.Dense(3, activation="softmax", name="kind")(residual)
    model, _ = _saved(keras, keras.Model([a, b], [out1, out2], name="two_two"), tmp_path)
    svg = ET.fromstring(graph_figure(describe_model(model)).svg())
    _check_every_layer_once(model, svg)
    _check_no_overlap(svg)
    outputs = {
        name
        for name, (g,) in _nodes(svg).items()
        if "(output)" in " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
    }
    assert outputs == {"price", "kind"}


@pytest.mark.slow
@pytest.mark.tensorflow
def test_nested_model_is_one_group_holding_its_layers(keras, tmp_path):
    from generator.model.frontend import describe_model

    inner = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, name="inner_a"),
            keras.layers.Dense(3, name="inner_b"),
        ],
        name="block",
    )
    x = keras.Input((6,), name="x")
    model = keras.Model(x, keras.layers.Dense(2, name="head")(inner(x)), name="outer")
    model, _ = _saved(keras, model, tmp_path)
    figure = graph_figure(describe_model(model), {"block": "#b", "head": "#h"})
    svg = ET.fromstring(figure.svg())
    nodes = _nodes(svg)
    (block,) = nodes["block"]
    inside = {g.get("data-layer") for g in block.iter(f"{SVG}g") if g.get("data-layer")}
    assert {"inner_a", "inner_b"} <= inside
    assert block.get("data-shape") == _dims(model.get_layer("block").output.shape)
    links = re.findall(r'<a class="naf-link" href="([^"]+)"', figure.html())
    assert sorted(links) == ["#b", "#h"]  # one link over the whole nested model


@pytest.mark.slow
@pytest.mark.tensorflow
def test_course_math_markdown_has_both_views_and_links_reach_headings(keras, tmp_path):
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(8, (3, 3), activation="relu"),
            keras.layers.Conv2D(16, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2), name="max_pooling2d"),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="simple_cnn",
    )
    model, path = _saved(keras, model, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "generator.cli", "math", str(path), "--format", "markdown"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    page = result.stdout
    (graph,) = _svgs(page, "graph")
    _check_every_layer_once(model, graph)
    (volume,) = _svgs(page, "volume")
    items = [g for g in volume.iter(f"{SVG}g") if g.get("class") == "naf-volume-item"]
    expected = [_dims(model.inputs[0].shape)] + [_dims(lay.output.shape) for lay in model.layers]
    assert [g.get("data-shape") for g in items] == expected
    html = markdown.markdown(page, extensions=EXTENSIONS)
    drawn = set(re.findall(r'<a class="naf-link" href="#([^"]+)"', html))
    assert len(drawn) == len(model.layers) and drawn <= set(re.findall(r' id="([^"]+)"', html))
    assert "<em>" not in "".join(re.findall(r"<svg.*?</svg>", html, flags=re.S))
    # The anchor sits in the layer's heading, whose own id and table-of-contents name stay.
    (heading,) = re.findall(r'<h3 id="3-max_pooling2d-maxpooling2d">(.*?)</h3>', html)
    assert 'id="layer-simple_cnn-3"' in heading
    md = markdown.Markdown(extensions=EXTENSIONS)
    md.convert(page)
    (section,) = [t for t in md.toc_tokens[0]["children"] if t["name"] == "Layer by layer"]
    assert section["children"][2]["name"] == "3. max_pooling2d (MaxPooling2D)"
    _check_links_in_a_lesson_page(page, tmp_path)


def _check_links_in_a_lesson_page(page: str, tmp_path) -> None:
    """A lesson page embeds the model page (headings flattened): the links still land."""
    from pipeline_support import notebook, write_notebook

    from generator.site.lessons import read_lesson
    from generator.site.pages import lesson_page
    from generator.site.publish import DISPLAY_KEY

    executed = notebook(("markdown", "# A lesson"), ("code", "publish(model)"))
    executed["cells"][1]["outputs"] = [
        {
            "output_type": "display_data",
            "metadata": {DISPLAY_KEY: {"name": "simple_cnn", "stem": "simple_cnn"}},
            "data": {"text/markdown": page, "text/plain": "<page>"},
        }
    ]
    source = notebook(("markdown", "# A lesson"), ("code", "publish(model)"))
    current = write_notebook(tmp_path / "01-x.ipynb", source)
    lesson = lesson_page(read_lesson(current), executed, "../notebooks/01-x.ipynb", "../models")
    html = markdown.markdown(lesson.markdown, extensions=EXTENSIONS)
    drawn = set(re.findall(r'<a class="naf-link" href="#([^"]+)"', html))
    assert drawn and drawn <= set(re.findall(r' id="([^"]+)"', html))
    assert not re.search(r"<h\d", html.split("<details", 1)[1])  # the headings were flattened


def test_figure_text_is_inert_under_markdown_inside_an_admonition():
    """A lesson page embeds the model page in an admonition, where Markdown reads the SVG."""
    odd = LayerRecord(
        name="*odd*_$x$_`y`",
        type="Dense",
        attrs=keras_attrs("Dense", {"units": 3}, (None, 2), (None, 3)),
        input_shapes=((None, 2),),
        output_shapes=((None, 3),),
        inbound=("in_1",),
        weights=(),
        framework_params=0,
        framework_trainable=0,
        code='Dense(3, name="*odd*")',
    )
    graph = ModelGraph(
        "m",
        "Functional",
        (TensorRecord("in_1", (None, 2)),),
        (TensorRecord(odd.name, (None, 3)),),
        (odd,),
        (odd.name,),
    )
    block = graph_figure(graph).html()
    page = '??? abstract "m"\n\n' + "\n".join("    " + line for line in block.splitlines())
    html = markdown.markdown(page, extensions=EXTENSIONS)
    svg = re.search(r"<svg.*?</svg>", html, flags=re.S).group(0)
    assert "<em>" not in svg and "arithmatex" not in svg and "<code>" not in svg
    node = ET.fromstring(svg).find(f".//{SVG}g[@class='naf-node']")
    assert node.get("data-layer") == odd.name
    assert esc("a<b`") == "a&lt;b&#96;"
    assert ET.fromstring(f"<t>{esc(odd.name)}</t>").text == odd.name


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.parametrize("kind, steps", [("LSTM", None), ("SimpleRNN", 12), ("GRU", 5)])
def test_recurrent_layers_drawn_cell_and_unrolled(keras, tmp_path, kind, steps):
    from generator.equation.analyze import analyze_model
    from generator.render.markdown import model_page

    layer = getattr(keras.layers, kind)(4, name="rec")
    model = keras.Sequential([keras.Input((steps, 3)), layer], name=f"seq_{kind.lower()}")
    model, _ = _saved(keras, model, tmp_path)
    page = model_page(analyze_model(model))
    (unrolled,) = _svgs(page, "unrolled")
    shown = " ".join(t.text or "" for t in unrolled.iter(f"{SVG}text"))
    assert f"same {model.count_params():,} parameters" in shown
    assert f"t = {'T−1' if steps is None else steps - 1}" in shown
    assert f"({model.get_layer('rec').units} units each)" in shown
    cells = _svgs(page, "lstm")
    assert len(cells) == (kind == "LSTM")
    for cell in cells:
        labels = " ".join(t.text or "" for t in cell.iter(f"{SVG}text"))
        for gate in ("forget gate", "input gate", "candidate", "output gate", "cₜ₋₁", "hₜ₋₁"):
            assert gate in labels
        assert "4 units from xₜ (3 features)" in labels
    links = set(re.findall(r'<a class="naf-link" href="#([^"]+)"', page))
    assert links == {f"layer-seq_{kind.lower()}-1"}
    assert f'<span id="layer-seq_{kind.lower()}-1"></span>' in page


@pytest.mark.slow
@pytest.mark.tensorflow
def test_publish_shows_the_diagrams_in_jupyter(keras, tmp_path, monkeypatch):
    """`publish()` displays the page, diagrams included, as Markdown a notebook renders."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from markdown_it import MarkdownIt

    from generator.site.publish import publish

    monkeypatch.delenv("COURSE_ARTIFACTS", raising=False)
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(2, (3, 3)), keras.layers.Flatten()],
        name="tiny_cnn",
    )
    model, _ = _saved(keras, model, tmp_path)
    InteractiveShell.instance()
    with capture_output() as captured:
        publish(model, name="tiny-cnn")
    (shown,) = [o.data["text/markdown"] for o in captured.outputs if "text/markdown" in o.data]
    # JupyterLab renders Markdown as CommonMark: the figures must come through as raw HTML.
    html = MarkdownIt("commonmark").render(shown)
    for kind in ("graph", "volume"):
        (svg,) = _svgs(html, kind)
        assert "conv2d" in svg.find(f"{SVG}desc").text
