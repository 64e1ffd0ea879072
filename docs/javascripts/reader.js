// Reading on a narrow screen: architecture tables as cards (on a phone, or wherever one would not
// fit), and a visible hint on every figure or table that is wider than its column and scrolls
// sideways. The layout itself is CSS (stylesheets/extra.css, diagrams.css); this script only
// labels what the CSS needs, and runs on every page the theme's instant navigation swaps in
// (`document$`).
(() => {
  // An architecture table's columns (generator/render/markdown.py `architecture_table`), by
  // their header: a card lays each one out by its role (`data-col`), whatever its position.
  const ROLES = [
    [/^#$/, "num"],
    [/^Layer$/, "name"],
    [/code$/i, "code"],
    [/^Shape/, "shape"],
    [/^Parameters$/, "params"],
    [/^Count$/, "count"],
  ];
  const role = (header) => (ROLES.find(([pattern]) => pattern.test(header)) || [null, "other"])[1];

  /** Mark the architecture tables of the page (`data-naf-layers`) and label their cells. */
  function labelLayerTables(root) {
    for (const table of root.querySelectorAll(".md-typeset table")) {
      const heads = Array.from(table.querySelectorAll("thead th"), (th) => th.textContent.trim());
      const roles = heads.map(role);
      if (!roles.includes("count") || !roles.includes("shape")) continue;
      if (!table.hasAttribute("data-naf-layers")) table.setAttribute("data-naf-layers", "");
      for (const row of table.querySelectorAll("tbody tr")) {
        Array.from(row.children).forEach((cell, i) => {
          cell.setAttribute("data-col", roles[i] || "other");
          cell.setAttribute("data-label", heads[i] || "");
        });
      }
    }
  }

  // Boxes that scroll sideways when their content is wider than the column.
  const SCROLL_BOXES = ".md-typeset .naf-diagram, .md-typeset .output-table, .md-typeset__scrollwrap";

  /** Show or hide a box's "scroll →" hint: shown while there is more to its right. */
  function updateHint(box) {
    const more = box.scrollWidth - box.clientWidth;
    const state = more <= 1 ? null : box.scrollLeft >= more - 1 ? "end" : "more";
    if (state) box.setAttribute("data-naf-overflow", state);
    else box.removeAttribute("data-naf-overflow");
    const hint = box.previousElementSibling;
    if (hint && hint.classList.contains("naf-scroll-hint")) hint.hidden = state === null;
  }

  const resized = new ResizeObserver((entries) => entries.forEach((e) => updateHint(e.target)));

  /** Give every scroll box of the page its hint, kept up to date on scrolling and resizing. */
  function addScrollHints(root) {
    for (const box of root.querySelectorAll(SCROLL_BOXES)) {
      if (box.hasAttribute("data-naf-hinted")) continue;
      box.setAttribute("data-naf-hinted", "");
      const hint = document.createElement("div");
      hint.className = "naf-scroll-hint";
      hint.setAttribute("aria-hidden", "true");
      hint.textContent = "scroll →";
      hint.hidden = true;
      box.before(hint);
      box.addEventListener("scroll", () => updateHint(box), { passive: true });
      // A graph drawn only near the screen (`content-visibility: auto`) has its width then.
      box.addEventListener("contentvisibilityautostatechange", (event) => {
        if (!event.skipped) updateHint(box);
      });
      resized.observe(box);
      updateHint(box);
    }
  }

  // A phone shows every architecture table as cards; a wider screen, a table that does not fit
  // its column (long code lines, many inputs): a card never hides a column off-screen.
  const phone = window.matchMedia("(max-width: 44.9375em)");
  const tooWide = (table) => {
    const box = table.closest(".md-typeset__scrollwrap") || table.parentElement;
    return box.scrollWidth > box.clientWidth + 1;
  };
  const fitLayerTable = (table) => {
    if (table.getAttribute("data-naf-layers") === "cards") return;
    if (phone.matches || tooWide(table)) table.setAttribute("data-naf-layers", "cards");
  };
  // A table widens as MathJax typesets its shapes (lazily): check it again then.
  const widened = new ResizeObserver((entries) => entries.forEach((e) => fitLayerTable(e.target)));
  const fitLayerTables = (reset) => {
    for (const table of document.querySelectorAll("table[data-naf-layers]")) {
      if (reset) table.setAttribute("data-naf-layers", "");
      fitLayerTable(table);
      widened.observe(table);
    }
  };
  window.addEventListener("resize", () => fitLayerTables(true));

  const prepare = () => {
    const root = document.querySelector(".md-content") || document.body;
    labelLayerTables(root);
    fitLayerTables(false);
    addScrollHints(root);
  };
  // Again on the next frame: the theme wraps tables in their scroll box after this runs.
  document$.subscribe(() => {
    prepare();
    requestAnimationFrame(prepare);
  });
  // A table's content grows when MathJax typesets its shapes (lazily, as it scrolls in view).
  window.addEventListener("load", () => {
    prepare();
    document.querySelectorAll(SCROLL_BOXES).forEach(updateHint);
  });
})();
