"""Diagram boxes show their labels whole, and the graph view folds repeated blocks.

References: the layer's name and Keras code line as the loaded model gives them (every character
must be drawn, no ellipsis), Chromium's own text measurement (each drawn line fits its box), and
Keras's layers and shapes for the folded view of ResNet50 (every layer is a box or inside a
folded box whose shape is Keras's output shape of the block's last call).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tensorflow]

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """ResNet50 and a model of long names and long code lines, saved and loaded back."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    L = keras.layers
    x = keras.Input((16, 16, 3), name="an_input_with_a_rather_long_descriptive_name")
    h = L.Conv2D(
        8,
        (3, 3),
        strides=(1, 1),
        padding="same",
        dilation_rate=(2, 2),
        activation="relu",
        use_bias=False,
        name="first_convolution_of_the_feature_extractor_stage",
    )(x)
    h = L.BatchNormalization(momentum=0.9, epsilon=0.0001, center=False, name="bn")(h)
    h = L.SeparableConv2D(8, (5, 5), depth_multiplier=2, activation="sigmoid")(h)
    out = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(h))
    long = keras.Model(x, out, name="long_labels")
    resnet = keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
    loaded = []
    for model in (resnet, long):
        path = tmp_path_factory.mktemp("labels") / f"{model.name}.keras"
        model.save(path)
        loaded.append(keras.models.load_model(path))
    return loaded


def _figures(models):
    from generator.model.frontend import describe_model
    from generator.render.diagrams import graph_figure

    for model in models:
        graph = describe_model(model)
        for fold in (False, True):
            yield model, graph, ET.fromstring(graph_figure(graph, fold=fold).svg())


def _boxes(svg: ET.Element):
    for g in svg.iter(f"{SVG}g"):
        if "naf-node" in (g.get("class") or "").split():
            texts = [t.text or "" for t in g.findall(f"{SVG}text")]
            yield g, texts


def test_every_label_drawn_whole(models):
    for _model, graph, svg in _figures(models):
        records = {layer.name: layer for layer in graph.layers}
        for g, texts in _boxes(svg):
            assert not any("…" in t for t in texts), texts
            name = g.get("data-layer")
            if name not in records:  # a model input, or a folded box
                continue
            record = records[name]
            shown = "".join(texts).replace(" ", "")
            title_and_code = f"{record.name}·{record.type}{record.code}".replace(" ", "")
            assert shown.startswith(title_and_code), (name, texts)


@pytest.mark.browser
def test_every_label_line_fits_its_box_in_chromium(models):
    from browser_support import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    measure = """() => Array.from(document.querySelectorAll("g.naf-node")).flatMap((g) => {
        const rects = Array.from(g.children).filter((e) => e.tagName === "rect");
        const box = rects.reduce((a, b) => (a.x.baseVal.value <= b.x.baseVal.value ? a : b));
        const right = box.x.baseVal.value + box.width.baseVal.value;
        return Array.from(g.children).filter((e) => e.tagName === "text").map((t) => [
            g.dataset.layer, t.textContent,
            t.x.baseVal[0].value + t.getComputedTextLength() - right,
        ]);
    })"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        page = browser.new_page()
        over = []
        for _model, _graph, svg in _figures(models):
            page.set_content(ET.tostring(svg, encoding="unicode"))
            over += [row for row in page.evaluate(measure) if row[2] > -4]
        browser.close()
    assert not over, over[:5]


def test_resnet50_folded_view_stands_for_every_layer(models):
    from generator.model.frontend import describe_model
    from generator.render.blocks import repeated_blocks
    from generator.render.diagrams import graph_figure

    resnet = models[0]
    graph = describe_model(resnet)
    runs = repeated_blocks(graph)
    svg = ET.fromstring(graph_figure(graph, fold=True).svg())
    boxes = {g.get("data-layer"): g for g, _ in _boxes(svg)}
    folded = {name: g for name, g in boxes.items() if "naf-folded" in g.get("class")}
    keras_layers = {layer.name: layer for layer in resnet.layers}
    assert len(folded) == len(runs) == 4
    drawn = {name for name in boxes if name in keras_layers}
    hidden = set(keras_layers) - drawn
    assert len(hidden) == sum(run.length * (run.count - 1) for run in runs) == 80
    for run in runs:
        last = graph.layers[run.folded[-1]].name
        (box,) = [g for name, g in folded.items() if name.endswith(f"–{run.folded[-1] + 1}")]
        shape = "×".join(str(d) for d in keras_layers[last].output.shape[1:])
        assert box.get("data-shape") == shape
    edges = [
        (g.get("data-from"), g.get("data-to"))
        for g in svg.iter(f"{SVG}g")
        if g.get("class") == "naf-edge"
    ]
    for name in folded:  # one edge in (the block's input), one edge out (the next stage)
        assert [a for a, b in edges if b == name] and len([a for a, b in edges if b == name]) == 1
        assert len([b for a, b in edges if a == name]) >= 1
    assert not {a for a, _ in edges} & hidden and not {b for _, b in edges} & hidden
