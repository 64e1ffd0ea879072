"""Search snippets: the TeX of a built site's search index tidied to readable text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.site.search_index import tidy_search_index, tidy_text


@pytest.mark.parametrize(
    "raw, tidy",
    [
        (
            r"\(a_{i,j,q} = \mathrm{relu}\left(b_q + \sum_{u=0}^{k_h-1} W_{u,v,c,q}\, x\right)\)",
            "a_(i,j,q) = relu(b_q + Σ_(u=0)^(k_h-1) W_(u,v,c,q) x)",
        ),
        (
            r"\[n' = \left\lfloor \frac{n + 2p - d\,(k - 1) - 1}{s} \right\rfloor + 1\]",
            "n' = ⌊ (n + 2p - d (k - 1) - 1)/s ⌋ + 1",
        ),
        (r"\(W^{(2)} \sigma\bigl(x\bigr)\)", "W^(2) σ(x)"),
        (r"\(32 \times 32 \times 3\), \(1{,}216\)", "32 × 32 × 3, 1,216"),
        (r"\(\text{max\_pooling2d}\)", "max_pooling2d"),
        (r"\[\begin{aligned} a &= x, \\ g &= f \circ h \end{aligned}\]", "a = x, ; g = f ∘ h"),
        (r"\(\hat{y}\)", "ŷ"),
        (r"code: `print('\n')` stays", r"code: `print('\n')` stays"),  # no math: untouched
    ],
)
def test_tex_tidied_to_text(raw: str, tidy: str) -> None:
    assert tidy_text(raw) == tidy


def test_both_engines_indexes_are_rewritten(tmp_path: Path) -> None:
    (tmp_path / "search").mkdir()
    entry = {"location": "a/", "title": r"Layer \(a = f(x)\)", "text": r"<p>\(x_{i+u}\)</p>"}
    (tmp_path / "search" / "search_index.json").write_text(
        json.dumps({"config": {"lang": ["en"]}, "docs": [entry, {"location": "b/", "text": "no"}]})
    )
    (tmp_path / "search.json").write_text(json.dumps({"items": [entry]}))
    assert tidy_search_index(tmp_path) == 2
    mkdocs = json.loads((tmp_path / "search" / "search_index.json").read_text())
    assert mkdocs["docs"][0] == {
        "location": "a/",
        "title": "Layer a = f(x)",
        "text": "<p>x_(i+u)</p>",
    }
    assert mkdocs["config"] == {"lang": ["en"]} and mkdocs["docs"][1]["text"] == "no"
    assert (
        json.loads((tmp_path / "search.json").read_text())["items"][0]["text"] == "<p>x_(i+u)</p>"
    )
    assert tidy_search_index(tmp_path / "nowhere") == 0
