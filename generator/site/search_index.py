"""Search snippets: the TeX in a built site's search index, tidied to text a reader can read."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

#: Where each engine writes its index, relative to the site.
INDEXES = ("search/search_index.json", "search.json")
#: Inline `\(...\)` and display `\[...\]` math, as pymdownx.arithmatex (generic) writes it.
MATH = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
SYMBOLS = {
    "sum": "Σ",
    "prod": "Π",
    "cdot": "·",
    "times": "×",
    "circ": "∘",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "ne": "≠",
    "neq": "≠",
    "approx": "≈",
    "in": "∈",
    "infty": "∞",
    "to": "→",
    "rightarrow": "→",
    "mapsto": "↦",
    "dots": "…",
    "ldots": "…",
    "cdots": "⋯",
    "lfloor": "⌊",
    "rfloor": "⌋",
    "lceil": "⌈",
    "rceil": "⌉",
    "partial": "∂",
    "nabla": "∇",
    "odot": "⊙",
    "otimes": "⊗",
    "mid": "|",
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "eta": "η",
    "theta": "θ",
    "lambda": "λ",
    "mu": "μ",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "varphi": "φ",
    "psi": "ψ",
    "omega": "ω",
    "Sigma": "Σ",
    "Delta": "Δ",
    "Phi": "Φ",
}
#: Commands that only space, size or style: dropped (their argument, if any, is kept).
DROPPED = re.compile(
    r"\\(?:left|right|big|Big|bigg|Bigg|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|displaystyle|"
    r"textstyle|limits|nolimits|mathrm|mathbf|mathit|mathsf|mathcal|boldsymbol|text|textbf|"
    r"textit|operatorname|underbrace|overbrace|tfrac|dfrac|color\{[^{}]*\}|textcolor\{[^{}]*\}|"
    r"begin\{[a-z*]*\}|end\{[a-z*]*\}|tag\{[^{}]*\}|label\{[^{}]*\})(?![A-Za-z])"
)
SPACES = re.compile(r"\\(?:,|;|:|!|quad|qquad| )|~")
SCRIPT = re.compile(r"([_^])\{([^{}]*)\}")
HAT = re.compile(r"\\(hat|tilde|bar)\{([^{}]*)\}")
FRAC = re.compile(r"\\[td]?frac\{([^{}]*)\}\{([^{}]*)\}")


def tidy_tex(tex: str) -> str:
    """TeX as plain text: `\\sum_{u=0}^{k_h-1} W_{u,v}\\, x` -> `Σ_(u=0)^(k_h-1) W_(u,v) x`."""
    text = SPACES.sub(" ", re.sub(r"\\\\", "; ", tex))
    text = HAT.sub(lambda m: m.group(2) + {"hat": "̂", "tilde": "̃", "bar": "̄"}[m.group(1)], text)
    text = re.sub(r"\\(?:mathrm|text|operatorname|mathbf)\{([^{}]*)\}", r"\1", text)
    for _ in range(4):  # nested fractions and scripts, innermost first
        text = FRAC.sub(lambda m: f"{_group(m.group(1))}/{_group(m.group(2))}", text)
        text = SCRIPT.sub(lambda m: _script(m.group(1), m.group(2)), text)
    text = DROPPED.sub("", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: SYMBOLS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\\([{}%$&#_|])", r"\1", text)
    text = text.replace("&", " ").replace("{", "").replace("}", "")
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", text).strip())


def _group(body: str) -> str:
    """A fraction's part: in parentheses unless it is one symbol or number."""
    body = body.strip()
    return body if re.fullmatch(r"[\w.]+", body) else f"({body})"


def _script(mark: str, body: str) -> str:
    body = body.strip()
    if re.fullmatch(r"[\w.]+|\\[A-Za-z]+|\([^()]*\)", body):
        return f"{mark}{body}"
    return f"{mark}({body})"


def tidy_text(text: str) -> str:
    """Every `\\(...\\)` and `\\[...\\]` in `text` replaced by its tidied TeX."""
    return MATH.sub(lambda m: tidy_tex(m.group(1) if m.group(1) is not None else m.group(2)), text)


def _tidy(value: Any) -> Any:
    if isinstance(value, str):
        return tidy_text(value) if "\\" in value else value
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, dict):
        return {
            k: _tidy(v) if k in ("title", "text") or not isinstance(v, str) else v
            for k, v in value.items()
        }
    return value


def tidy_search_index(site: Path) -> int:
    """Tidy the TeX of the search index the engine wrote into `site`; returns the number of
    entries rewritten (0 when the site has no index)."""
    changed = 0
    for name in INDEXES:
        path = site / name
        if not path.is_file():
            continue
        index = json.loads(path.read_text(encoding="utf-8"))
        tidied = _tidy(index)
        key = "docs" if "docs" in index else "items"
        changed += sum(
            1 for a, b in zip(index.get(key, []), tidied.get(key, []), strict=True) if a != b
        )
        path.write_text(json.dumps(tidied, ensure_ascii=False), encoding="utf-8")
    return changed
