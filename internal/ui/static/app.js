// forewarn UI: draws the dashboard's charts from the JSON the server
// rendered into #chart-data. No inline scripts: the page's CSP forbids them.
(function () {
  "use strict";

  var palette = { a: "#2563eb", b: "#dc2626", c: "#16a34a", grid: "#e5e7eb", text: "#374151" };

  function width(el) { return Math.max(200, el.clientWidth - 8); }

  function axes(xLabel, yLabel, xValues) {
    var x = { label: xLabel, stroke: palette.text, grid: { stroke: palette.grid }, size: 50 };
    if (xValues) { x.values = xValues; }
    return [x, { label: yLabel, stroke: palette.text, grid: { stroke: palette.grid }, size: 70 }];
  }

  function bars(u) { return uPlot.paths.bars({ size: [0.7, 80] }); }

  // categorical makes a bar chart of labels → counts.
  function categorical(el, labels, values, seriesLabel, color) {
    var xs = labels.map(function (_, i) { return i; });
    var long = labels.some(function (l) { return l.length > 6; });
    var opts = {
      width: width(el), height: long ? 300 : 260, legend: { live: true },
      scales: { x: { time: false, range: [-0.6, labels.length - 0.4] }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: axes(el.dataset.x, el.dataset.y, function (u, splits) { return splits.map(function (i) { return labels[i] !== undefined && Number.isInteger(i) ? labels[i] : ""; }); }),
      series: [{ label: el.dataset.x, value: function (u, i) { return i == null ? "" : labels[i]; } },
               { label: seriesLabel, fill: color + "cc", stroke: color, paths: bars() , points: { show: false } }],
    };
    opts.axes[0].splits = function () { return xs; };
    if (long) { opts.axes[0].rotate = -35; opts.axes[0].size = 90; }
    var plot = new uPlot(opts, [xs, values], el);
    // A bar clicked opens the search it counts (data-link + the label).
    if (el.dataset.link) {
      plot.over.addEventListener("click", function () {
        var i = plot.cursor.idx;
        if (i != null && labels[i] !== undefined && labels[i] !== "None" && labels[i] !== "(none)") {
          location.href = el.dataset.link + encodeURIComponent(labels[i]);
        }
      });
    }
    return plot;
  }

  function draw(el, data) {
    var kind = el.dataset.kind;
    if (kind === "bars") {
      var s = data[el.dataset.series] || { labels: [], values: [] };
      if (!s.labels || s.labels.length === 0) { return empty(el); }
      return categorical(el, s.labels, s.values, "Indicators", palette.a);
    }
    if (kind === "months") {
      var m = data.months;
      if (!m.labels || m.labels.length === 0) { return empty(el, "No indicator carries Predicted At or Detected At: select them under Context Selection."); }
      var xs = m.labels.map(function (l) { var p = l.split("-"); return Date.UTC(+p[0], +p[1] - 1, 1) / 1000; });
      var mp = new uPlot({
        width: width(el), height: 280, legend: { live: true },
        scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
        axes: axes(el.dataset.x, el.dataset.y),
        series: [{ label: "Month", value: "{YYYY}-{MM}" },
                 { label: "Predicted (Predicted At)", stroke: palette.a, width: 2, fill: palette.a + "22" },
                 { label: "Detected (Detected At)", stroke: palette.b, width: 2 }],
      }, [xs, m.predicted, m.detected], el);
      // A month clicked opens the search of its predictions: the link in
      // the chart's table (#months-table), row for row.
      mp.over.addEventListener("click", function () {
        var i = mp.cursor.idx, rows = document.querySelectorAll("#months-table tbody tr");
        var a = i != null && rows[i] && rows[i].querySelector("a");
        if (a) { location.href = a.href; }
      });
      mp.over.style.cursor = "pointer";
      return mp;
    }
    if (kind === "lead") {
      var l = data.lead;
      if (!l.days || l.days.length === 0) { return empty(el); }
      // Days into 7-day bins, each drawn at its first day: daily bars are
      // too thin to read over years of lead time.
      var bins = {}, bx = [], by = [];
      l.days.forEach(function (d, i) { var b = Math.floor(d / 7) * 7; bins[b] = (bins[b] || 0) + l.counts[i]; });
      Object.keys(bins).map(Number).sort(function (a, b) { return a - b; }).forEach(function (b) { bx.push(b); by.push(bins[b]); });
      return new uPlot({
        width: width(el), height: 280, legend: { live: true },
        scales: { x: { time: false }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
        axes: axes(el.dataset.x, el.dataset.y),
        series: [{ label: "Lead time (days)" }, { label: "Indicators per 7-day bin", fill: palette.c + "aa", stroke: palette.c, paths: bars(), points: { show: false } }],
        hooks: { draw: [function (u) { marker(u, l.median, "median " + l.median + " d", palette.a); marker(u, l.p90, "p90 " + l.p90 + " d", palette.b); }] },
      }, [bx, by], el);
    }
    if (kind === "health") {
      var h = data.health_created;
      if (!h.labels || h.labels.length === 0) { return empty(el, "No runs yet."); }
      var hx = h.labels.map(function (_, i) { return i; });
      var o = {
        width: width(el), height: 240, legend: { live: true },
        scales: { x: { time: false, range: [-0.6, hx.length - 0.4] }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
        axes: axes(el.dataset.x, el.dataset.y, function (u, splits) { return splits.map(function (i) { return Number.isInteger(i) && h.labels[i] ? h.labels[i] : ""; }); }),
        series: [{ label: "Run", value: function (u, i) { return i == null ? "" : h.labels[i]; } },
                 { label: "Created", stroke: palette.a, fill: palette.a + "cc", paths: bars(), points: { show: false } },
                 { label: "Updated", stroke: palette.c, width: 2 }],
      };
      o.axes[0].splits = function () { return hx; };
      return new uPlot(o, [hx, h.values, data.health_updated], el);
    }
  }

  // marker draws a labelled vertical line at x.
  function marker(u, x, text, color) {
    var ctx = u.ctx, px = u.valToPos(x, "x", true), top = u.bbox.top, bottom = top + u.bbox.height;
    ctx.save();
    ctx.strokeStyle = color; ctx.lineWidth = 2 * devicePixelRatio; ctx.setLineDash([6, 4]);
    ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.stroke();
    ctx.fillStyle = color; ctx.font = (12 * devicePixelRatio) + "px system-ui, sans-serif";
    ctx.fillText(text, px + 4 * devicePixelRatio, top + 14 * devicePixelRatio * (color === palette.a ? 1 : 2.2));
    ctx.restore();
  }

  function empty(el, msg) {
    var p = document.createElement("p");
    p.className = "hint";
    p.textContent = msg || "No data yet.";
    el.appendChild(p);
  }

  function init() {
    var src = document.getElementById("chart-data");
    if (!src || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(src.textContent);
    document.querySelectorAll(".plot").forEach(function (el) {
      draw(el, data);
      el.dataset.drawn = "true";
    });
  }

  // htmx: send the CSRF token with every request it makes.
  document.addEventListener("htmx:configRequest", function (e) {
    var main = document.getElementById("main");
    if (main && main.dataset.csrf) { e.detail.headers["X-CSRF-Token"] = main.dataset.csrf; }
  });

  // Times: the server writes every time in the zone the signed-in key
  // chose (UTC by default). The footer's "show local time" button sends
  // this browser's zone, which only a script can read; without one the
  // button stays hidden and times stay in UTC.
  function initTZ() {
    var btn = document.getElementById("tz-toggle"), zone = document.getElementById("tz-zone");
    if (!btn || !zone || btn.dataset.to !== "local") { return; }
    var tz = "";
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
    if (!tz || tz.length > 64) { return; }
    zone.value = tz;
    btn.textContent = "show local time (" + tz + ")";
    btn.hidden = false;
  }

  // Copy buttons: data-copy names the input whose value to copy.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-copy]");
    if (!b) { return; }
    var input = document.getElementById(b.dataset.copy);
    if (!input) { return; }
    input.select();
    var done = function () { b.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else { document.execCommand("copy"); done(); }
  });

  function start() { init(); initTZ(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
