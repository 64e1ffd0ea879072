"""SVG drawing primitives shared by every diagram: escaping, palette, boxes, text, arrows.

Diagrams are written inline into Markdown pages, so text is escaped twice over: as XML, and so
that Markdown's inline syntax (`*`, `_`, `$`, backticks, braces) never fires inside a figure that
a lesson page embeds in an admonition. Colours come from the theme (mkdocs-material's CSS
variables, JupyterLab's as a fallback, then `currentColor`), so light and dark modes both read.
No element carries an `id`: two diagrams on one page never clash. Links are HTML `<a>` elements
laid over the drawing, not SVG ones: the theme's instant navigation sets `href` on the links it
follows, which an SVG `<a>` does not allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Characters Markdown or MathJax would act on, written as numeric character references.
_MARKDOWN_ACTIVE = {c: f"&#{ord(c)};" for c in "*_$`\\{}[]#|~^"}

#: Of those, the ones Markdown acts on even inside an HTML tag's attributes.
_BEFORE_HTML = {c: f"&#{ord(c)};" for c in "`\\$"}

#: Theme colours, each a CSS value with fallbacks for a page without mkdocs-material.
FG = "var(--md-default-fg-color, var(--jp-content-font-color1, currentColor))"
FG_LIGHT = "var(--md-default-fg-color--light, var(--jp-content-font-color2, currentColor))"
BG = "var(--md-default-bg-color, var(--jp-layout-color0, transparent))"
ACCENT = "var(--md-accent-fg-color, var(--jp-brand-color1, #526cfe))"
PRIMARY = "var(--md-primary-fg-color, var(--jp-brand-color0, #4051b5))"

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace"
#: Rough advance of one character at 1 px font size: enough to size boxes without fonts.
CHAR_WIDTH = 0.6


@dataclass(frozen=True)
class Hotspot:
    """A link over part of a drawing: its box in drawing coordinates, target and spoken label."""

    x: float
    y: float
    width: float
    height: float
    href: str
    label: str


@dataclass(frozen=True)
class Figure:
    """A finished drawing: its SVG body, size, accessible title, description and links."""

    body: str
    width: float
    height: float
    title: str
    desc: str
    kind: str
    links: tuple[Hotspot, ...] = ()

    def svg(self) -> str:
        """The `<svg>` element, one element a line (no blank line, no indented line)."""
        w, h = _num(self.width), _num(self.height)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="naf-{self.kind}" '
            f'width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'style="display:block;max-width:none;color:{FG};{FONT}">\n'
            f"<title>{esc(self.title)}</title>\n<desc>{esc(self.desc)}</desc>\n"
            f"{self.body}\n</svg>"
        )

    def html(self, scroll: bool = True, max_height: str = "40em") -> str:
        """The SVG and its links in a `<div>` that scrolls when the drawing outgrows the page."""
        style = f"overflow:auto;max-height:{max_height}" if scroll else "overflow-x:auto"
        w, h = _num(self.width), _num(self.height)
        links = "".join(
            f'\n<a class="naf-link" href="{attr(spot.href)}" aria-label="{attr(spot.label)}" '
            f'title="{attr(spot.label)}" style="position:absolute;left:{_num(spot.x)}px;'
            f'top:{_num(spot.y)}px;width:{_num(spot.width)}px;height:{_num(spot.height)}px"></a>'
            for spot in self.links
        )
        return (
            f'<div class="naf-diagram naf-diagram-{self.kind}" markdown="0" style="{style}">\n'
            f'<div style="position:relative;width:{w}px;height:{h}px">\n'
            f"{self.svg()}{links}\n</div>\n</div>"
        )


def esc(text: object) -> str:
    """Text safe in XML and inert under Markdown and MathJax."""
    return "".join(_MARKDOWN_ACTIVE.get(c, c) for c in _xml(text))


def attr(text: object) -> str:
    """An attribute value safe in XML and from the Markdown patterns that run before raw HTML
    is set aside (code spans, backslash escapes, arithmatex's dollars)."""
    return "".join(_BEFORE_HTML.get(c, c) for c in _xml(text))


def _xml(text: object) -> str:
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return out.replace('"', "&quot;")


def _num(value: float) -> str:
    """A coordinate with at most one decimal."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, size: float) -> float:
    """Estimated width of `text` at font size `size` (px)."""
    return len(text) * size * CHAR_WIDTH


def clip(text: str, size: float, width: float) -> str:
    """`text` cut with an ellipsis to fit `width` px."""
    most = max(1, int(width / (size * CHAR_WIDTH)))
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def fit_lines(content: str, size: float, width: float, code: bool = False) -> list[str]:
    """`content` whole, in as many lines as it needs to fit `width` px (never cut).

    A code line (`code`) breaks after the commas between its arguments (`Conv2D(64, (3, 3),` /
    `padding="same")`), other text at spaces; a piece longer than a line is split inside.
    """
    most = max(1, int(width / (size * CHAR_WIDTH)))
    if len(content) <= most:
        return [content]
    lines = [""]
    pieces = _pieces(content, code)
    if code:  # an argument longer than a line breaks after its own inner commas
        pieces = [p for piece in pieces for p in (_inner(piece) if len(piece) > most else [piece])]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece.rstrip()) > most:
            lines[-1] = lines[-1].rstrip()
            lines.append("")
        lines[-1] += piece
        while len(lines[-1].rstrip()) > most:
            lines[-1], rest = lines[-1][:most], lines[-1][most:]
            lines.append(rest)
    return [line.rstrip() for line in lines if line.strip()]


def _pieces(content: str, code: bool) -> list[str]:
    """Where a line may break: after `, ` between a call's arguments, else after spaces."""
    pieces, depth, start = [], 0, 0
    for i, c in enumerate(content):
        depth += (c in "([{") - (c in ")]}")
        if c == " " and (not code or (depth == 1 and content[i - 1] == ",")):
            pieces.append(content[start : i + 1])
            start = i + 1
    return [*pieces, content[start:]]


def _inner(piece: str) -> list[str]:
    """A piece of a code line split after every `, ` (any depth): `((3, 3), ` / `(3, 3)))`."""
    parts = piece.split(", ")
    return [part + ", " for part in parts[:-1]] + [parts[-1]]


def wrap(content: str, size: float, width: float) -> list[str]:
    """`content` broken at spaces into lines that fit `width` px."""
    most = max(8, int(width / (size * CHAR_WIDTH)))
    lines: list[str] = []
    for word in content.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= most:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def rect(x: float, y: float, w: float, h: float, style: str, rx: float = 4) -> str:
    return (
        f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" '
        f'rx="{_num(rx)}" style="{style}"/>'
    )


def text(
    x: float,
    y: float,
    content: str,
    size: float = 12,
    anchor: str = "start",
    style: str = "",
    cls: str = "",
) -> str:
    attrs = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" text-anchor="{anchor}"'
        f'{attrs} style="fill:currentColor;{style}">{esc(content)}</text>'
    )


def line(x1: float, y1: float, x2: float, y2: float, style: str) -> str:
    return (
        f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" style="{style}"/>'
    )


def path(d: Iterable[str | float], style: str) -> str:
    parts = [p if isinstance(p, str) else _num(p) for p in d]
    return f'<path d="{" ".join(parts)}" style="{style}"/>'


def polygon(points: Iterable[tuple[float, float]], style: str) -> str:
    pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
    return f'<polygon points="{pts}" style="{style}"/>'


def arrow_head(x: float, y: float, dx: float, dy: float, style: str, size: float = 6) -> str:
    """A filled triangle with its tip at (x, y), pointing along (dx, dy)."""
    norm = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / norm, dy / norm
    bx, by = x - ux * size, y - uy * size
    px, py = -uy * size * 0.55, ux * size * 0.55
    return polygon([(x, y), (bx + px, by + py), (bx - px, by - py)], style)


def arrow(x1: float, y1: float, x2: float, y2: float, colour: str = FG_LIGHT) -> str:
    """A straight arrow from (x1, y1) to (x2, y2)."""
    stroke = f"stroke:{colour};stroke-width:1.4;fill:none"
    head = arrow_head(x2, y2, x2 - x1, y2 - y1, f"fill:{colour};stroke:none")
    return line(x1, y1, x2, y2, stroke) + "\n" + head


def group(elements: Iterable[str], dx: float = 0, dy: float = 0, attrs: str = "") -> str:
    """Elements in a `<g>`, moved by (dx, dy)."""
    move = f' transform="translate({_num(dx)},{_num(dy)})"' if dx or dy else ""
    extra = f" {attrs}" if attrs else ""
    return f"<g{move}{extra}>\n" + "\n".join(elements) + "\n</g>"


def dims_text(shape: tuple) -> str:
    """A tensor shape without its batch dimension: `30×30×32`; `?` for an unknown size."""
    dims = ["?" if d is None else str(d) for d in shape[1:]]
    return "×".join(dims) or "scalar"
