// Hover read-outs and the #log link. Hand-written, no dependencies.
(function () {
  "use strict";
  if (location.hash === "#log") {
    var log = document.getElementById("sc-log");
    if (log) log.checked = true;
  }
  var el = document.getElementById("bt-data");
  if (!el) return;
  var D;
  try { D = JSON.parse(el.textContent); } catch (e) { return; }
  var n = D.t.length;
  if (!n) return;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function nearest(t) {
    var lo = 0, hi = n - 1;
    while (lo < hi) {
      var m = (lo + hi) >> 1;
      if (D.t[m] < t) lo = m + 1; else hi = m;
    }
    if (lo > 0 && t - D.t[lo - 1] < D.t[lo] - t) lo--;
    return lo;
  }
  function date(t) {
    var s = new Date(t).toISOString();
    return s.slice(11, 16) === "00:00" ? s.slice(0, 10) : s.slice(0, 16).replace("T", " ");
  }
  function money(v) {
    if (v === null) return "\u2013";
    var a = Math.abs(v);
    return v.toLocaleString("en-US", { maximumFractionDigits: a >= 1000 ? 0 : a >= 1 ? 2 : 6 });
  }
  function pct(v, signed) {
    if (v === null || !isFinite(v)) return "\u2013";
    return (signed && v > 0 ? "+" : "") + v.toFixed(1) + " %";
  }
  function row(color, label, value, dashed) {
    var sw = color ? '<i style="background:' + color + (dashed ? ";opacity:.6" : "") + '"></i>' : "";
    return "<div><span>" + sw + esc(label) + "</span><em>" + value + "</em></div>";
  }
  var STRAT = "#2563eb", HODL = "#8a929b";
  function content(kind, i) {
    var h = "<b>" + date(D.t[i]) + "</b>";
    if (kind === "value") {
      var v = D.v[i], b = D.h[i];
      h += row(STRAT, "Rebalancing", money(v) + " " + esc(D.q));
      h += row(HODL, "HODL", money(b) + " " + esc(D.q));
      if (v !== null && b !== null && b > 0) h += row("", "vs HODL", pct((v / b - 1) * 100, true));
    } else if (kind === "dd") {
      h += row(STRAT, "Rebalancing", pct(D.dv[i]));
      h += row(HODL, "HODL", pct(D.dh[i]), true);
    } else {
      var w = D.w[i];
      if (!w) return h + "<div>no weights</div>";
      var order = D.a.map(function (_, k) { return k; });
      var max = 12;
      if (order.length > max) {
        // Many assets: the largest weights, then the rest summed up.
        order.sort(function (a, b) { return (w[b] || 0) - (w[a] || 0); });
        var rest = order.slice(max - 1), other = 0;
        rest.forEach(function (k) { other += w[k] || 0; });
        order = order.slice(0, max - 1).sort(function (a, b) { return a - b; });
      }
      order.forEach(function (k) { h += row(D.a[k][1], D.a[k][0], pct(w[k])); });
      if (rest) h += row("", "Other (" + rest.length + ")", pct(other));
    }
    return h;
  }

  var charts = document.querySelectorAll(".chart[data-kind]");
  Array.prototype.forEach.call(charts, function (c) {
    var svg = c.querySelector("svg"), tip = c.querySelector(".tip"), guide = svg && svg.querySelector(".guide");
    if (!svg || !tip || !guide) return;
    var kind = c.getAttribute("data-kind");
    function hide() { tip.style.display = "none"; guide.style.display = "none"; }
    function move(e) {
      var r = svg.getBoundingClientRect();
      if (!r.width) return;
      var vx = (e.clientX - r.left) / r.width * D.VW;
      var f = (vx - D.L) / (D.R - D.L);
      if (f < -0.01 || f > 1.01) { hide(); return; }
      var i = nearest(D.t0 + Math.min(1, Math.max(0, f)) * (D.t1 - D.t0));
      var x = D.L + (D.t[i] - D.t0) / (D.t1 - D.t0) * (D.R - D.L);
      guide.setAttribute("x1", x);
      guide.setAttribute("x2", x);
      guide.style.display = "";
      tip.innerHTML = content(kind, i);
      tip.style.display = "block";
      var cr = c.getBoundingClientRect();
      var px = (x / D.VW) * r.width + (r.left - cr.left) + c.scrollLeft;
      var left = px + 14;
      if (left + tip.offsetWidth > c.scrollLeft + c.clientWidth) left = px - 14 - tip.offsetWidth;
      tip.style.left = Math.max(c.scrollLeft, left) + "px";
    }
    svg.addEventListener("pointermove", move);
    svg.addEventListener("pointerleave", hide);
  });
})();
