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
    processHtmlClass: "arithmatex",
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
