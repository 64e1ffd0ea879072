// In-page exercises (generator/render/exercise.py): a reader types a shape or a count, the page
// says right or wrong. The page holds only SHA-256(salt + ":" + normalised answer), never the
// answer. The hash is computed here in plain JavaScript: `crypto.subtle` does not exist on
// file:// pages, and the site must work offline.
(() => {
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  // SHA-256 of a string's UTF-8 bytes, as lower-case hex (FIPS 180-4).
  function sha256(text) {
    const bytes = new TextEncoder().encode(text);
    const length = ((bytes.length + 9 + 63) >> 6) << 6;
    const data = new Uint8Array(length);
    data.set(bytes);
    data[bytes.length] = 0x80;
    const view = new DataView(data.buffer);
    view.setUint32(length - 4, bytes.length * 8);
    view.setUint32(length - 8, Math.floor(bytes.length / 0x20000000));
    const h = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    const w = new Uint32Array(64);
    const rotr = (x, n) => (x >>> n) | (x << (32 - n));
    for (let offset = 0; offset < length; offset += 64) {
      for (let t = 0; t < 16; t++) w[t] = view.getUint32(offset + 4 * t);
      for (let t = 16; t < 64; t++) {
        const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
        const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
      }
      let [a, b, c, d, e, f, g, k] = h;
      for (let t = 0; t < 64; t++) {
        const t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        [k, g, f, e, d, c, b, a] = [g, f, e, (d + t1) >>> 0, c, b, a, (t1 + t2) >>> 0];
      }
      [a, b, c, d, e, f, g, k].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
    }
    return Array.from(h, (v) => v.toString(16).padStart(8, "0")).join("");
  }

  // The same rules as `normalise` in generator/render/exercise.py.
  function normalise(answer, kind) {
    const text = answer.trim().toLowerCase();
    if (kind === "count") return text.replace(/[\s,_'{}.\u202f\u2009]/g, "");
    let parts = text.replace(/[()[\]]/g, " ").split(/[x×*,;\s]+/).filter((p) => p);
    if (parts.length && (parts[0] === "none" || parts[0] === "batch")) parts = parts.slice(1);
    return parts.join(",");
  }

  function check(form) {
    const input = form.querySelector("input[name=answer]");
    const verdict = form.querySelector(".naf-verdict");
    if (!input.value.trim()) {
      verdict.textContent = "Type an answer first.";
      form.dataset.verdict = "empty";
      return;
    }
    const digest = sha256(`${form.dataset.salt}:${normalise(input.value, form.dataset.kind)}`);
    const right = digest === form.dataset.hash;
    verdict.textContent = right ? "✓ Right." : "✗ Not quite: try again.";
    form.dataset.verdict = right ? "right" : "wrong";
  }

  function setUp() {
    document.querySelectorAll("form.naf-exercise:not([data-ready])").forEach((form) => {
      form.dataset.ready = "1";
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        check(form);
      });
    });
  }

  window.nafExercises = { sha256, normalise };
  // Instant navigation (MkDocs-material, Zensical) swaps pages without a load event.
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(setUp);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
