// MathJax 4 configuration for pymdownx.arithmatex (generic mode). The library and its font are
// served from this site (assets/mathjax/, assets/mathjax-newcm-font/, copied there by
// `course build`), never from a CDN: MathJax 4 fetches its font from jsdelivr unless told where
// the font is, hence `output.fontPath`.
(() => {
  // Where a display equation may break (MathJax 4 breaks at operators and explicit spaces):
  // between terms and at relations, never between a coefficient or a function and what it
  // applies to (`0.5\,\sigma(...)`, `\mathrm{relu}\!\left(...\right)`, `W\, x`), and never
  // right after a short left side (`a_{i,j,q}` alone on a line). Runs on the enriched MathML
  // (after MathJax's semantic enrichment, which inserts the invisible times and function
  // application operators a break would otherwise land on).
  const THIN_SPACE_EM = 0.17;
  const REL = 3; // MathJax's TEXCLASS.REL
  const keepTogether = (root) => {
    if (!root) return; // not compiled yet (ui/lazy compiles it when it comes into view)
    root.walkTree((node) => {
      if (node.isKind("mspace")) {
        const width = parseFloat(String(node.attributes.get("width")));
        if (!(width > THIN_SPACE_EM)) node.attributes.set("linebreak", "nobreak");
      } else if (node.isKind("mo")) {
        const text = node.getText();
        // An invisible product or function application; a sign with nothing before it in its
        // group (`(-3.19 ...`: a break there would leave the opening parenthesis alone).
        const prefix = node.parent && node.parent.childNodes[0] === node;
        if (text === "\u2061" || text === "\u2062" || prefix) {
          node.attributes.set("linebreak", "nobreak");
        }
      }
    });
    const top = root.childNodes;
    const items = top.length === 1 && top[0].isKind("mrow") ? top[0].childNodes : top;
    const first = items.findIndex((node) => node.isKind("mo") && node.texClass === REL);
    if (first > 0 && first <= 2) items[first].attributes.set("linebreak", "nobreak");
  };
  // After `enrich` (STATE.ENRICHED = 30), before the output (STATE.CONVERT = 100).
  const KEEP_TOGETHER_STATE = 35;

  // This script's own URL locates the site's assets on every page, at any depth.
  const assets = new URL("../assets/", document.currentScript.src).href;
  window.MathJax = {
    loader: {
      // textmacros: \text{max\_pooling2d} escapes as in LaTeX (else MathJax prints "\_").
      // no-dark-mode: MathJax's own dark colours follow the system setting, not the theme's
      // toggle; stylesheets/extra.css gives its highlights the theme's colours instead.
      // color: LaTeX's \color and \textcolor, which colour a worked example's numbers as its
      // figure colours them (input, kernel, bias, output).
      // ui/lazy: a formula is typeset when it comes near the screen, so a page of hundreds of
      // formulas (ResNet50's table and layered form) shows its first screen at once.
      load: ["[tex]/textmacros", "[tex]/color", "ui/no-dark-mode", "ui/lazy"],
    },
    tex: {
      packages: { "[+]": ["textmacros", "color"] },
      inlineMath: [["\\(", "\\)"]],
      displayMath: [["\\[", "\\]"]],
      processEscapes: true,
      processEnvironments: true,
      // A big network's layered form is one aligned block of ~30,000 characters (ResNet50's);
      // MathJax's default buffer of 5 KiB rejects it as a "recursive macro call".
      maxBuffer: 256 * 1024,
    },
    output: {
      fontPath: `${assets}mathjax-newcm-font`,
      // A display equation wider than its column breaks at its operators (inside `aligned`
      // cells too); one with no place to break scrolls in its own box (extra.css).
      displayOverflow: "linebreak",
      linebreaks: { inline: true, width: "100%" },
    },
    options: {
      renderActions: {
        keepTogether: [
          KEEP_TOGETHER_STATE,
          (doc) => {
            for (const math of doc.math) keepTogether(math.root);
          },
          (math) => keepTogether(math.root),
        ],
      },
      ignoreHtmlClass: ".*|",
      // md-ellipsis: the titles in the navigation and the table of contents, where a heading's
      // math arrives as plain text (without it the reader sees "\(a = f(W x + b)\)").
      processHtmlClass: "arithmatex|md-ellipsis",
      // Typeset this far beyond the screen ahead of the reader's scrolling.
      lazyMargin: "400px",
      // The navigation's and the table of contents' titles are always typeset: they are small,
      // and a placeholder there would change the width of the sidebars.
      lazyAlwaysTypeset: ".md-nav, .md-ellipsis",
    },
  };
})();

// Instant navigation swaps the page without reloading it: typeset the new page's math. The first
// page is typeset by MathJax itself; typesetting it again would also typeset the hidden MathML
// copies MathJax keeps for screen readers (a second, nested formula for each one).
let firstPage = true;
document$.subscribe(() => {
  const typesetByMathJax = firstPage;
  firstPage = false;
  if (typesetByMathJax || !window.MathJax || !MathJax.typesetPromise) {
    return;
  }
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise();
});
