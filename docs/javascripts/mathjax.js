// MathJax 3 configuration for pymdownx.arithmatex (generic mode). The library itself is served
// from this site (assets/mathjax/, copied there by `course build`), never from a CDN.
window.MathJax = {
  loader: {
    // \text{max\_pooling2d}: escapes inside \text{} as in LaTeX (else MathJax prints "\_").
    load: ["[tex]/textmacros"],
  },
  tex: {
    packages: { "[+]": ["textmacros"] },
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    // A big network's layered form is one aligned block of ~30,000 characters (ResNet50's);
    // MathJax's default buffer of 5 KiB rejects it as a "recursive macro call".
    maxBuffer: 256 * 1024,
  },
  options: {
    ignoreHtmlClass: ".*|",
    // md-ellipsis: the titles in the navigation and the table of contents, where a heading's
    // math arrives as plain text (without it the reader sees "\(a = f(W x + b)\)").
    processHtmlClass: "arithmatex|md-ellipsis",
  },
};

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
