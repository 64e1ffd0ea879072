// MathJax 3 configuration for pymdownx.arithmatex (generic mode). The library itself is served
// from this site (assets/mathjax/, copied there by `course build`), never from a CDN.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    // md-ellipsis: the titles in the navigation and the table of contents, where a heading's
    // math arrives as plain text (without it the reader sees "\(a = f(W x + b)\)").
    processHtmlClass: "arithmatex|md-ellipsis",
  },
};

// Instant navigation swaps the page without reloading it: typeset the new page's math.
document$.subscribe(() => {
  if (!window.MathJax || !MathJax.startup || !MathJax.typesetPromise) {
    return; // the first page: MathJax typesets it itself once loaded
  }
  MathJax.startup.output.clearCache();
  MathJax.typesetClear();
  MathJax.texReset();
  MathJax.typesetPromise();
});
