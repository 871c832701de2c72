// webmon's dashboard: local times, the site chart, confirmations. The pages read without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });

  // <time datetime="…UTC…">: the viewer's time zone in the text, UTC in the title.
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) el.textContent = timeFormat.format(when);
    });
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function chart() {
    var holder = document.getElementById("chart");
    var source = document.getElementById("chart-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var d = JSON.parse(source.textContent);
    holder.innerHTML = "";
    var width = Math.max(280, holder.clientWidth);
    var series, data;
    if (d.regions && d.regions.length > 1) {
      // A site checked from several regions: a line per region, never their checks
      // interleaved (its checks by slot, or each region's p50 per bucket).
      series = [{}];
      data = [d.t];
      d.regions.forEach(function (line, k) {
        series.push({ label: line.name + (d.step === "check" ? " ms" : " p50 ms"),
                      stroke: cssVar("--region-" + ((k % 6) + 1)), width: 2,
                      points: { show: d.step === "check", size: 4 }, spanGaps: true });
        data.push(line.ms);
      });
    } else if (d.step === "check") {
      // Few checks in the period: one point per check, joined, each visible.
      series = [{}, { label: "response ms", stroke: cssVar("--link"), width: 2,
                      points: { show: true, size: 5 }, spanGaps: false }];
      data = [d.t, d.p50];
    } else {
      series = [
        {},
        { label: "p50 ms", stroke: cssVar("--link"), width: 2 },
        { label: "p95 ms", stroke: cssVar("--warn"), width: 1.5 },
        { label: "avg ms", stroke: cssVar("--muted"), width: 1, dash: [4, 4] },
      ];
      data = [d.t, d.p50, d.p95, d.avg];
    }
    // The legend shows the latest point until the pointer is over the chart, not "--".
    var last = -1;
    for (var i = d.t.length - 1; i >= 0 && last < 0; i--) {
      for (var j = 1; j < data.length; j++) if (data[j][i] != null) last = i;
    }
    function showLatest(u) { if (last >= 0 && u.cursor.idx == null) u.setLegend({ idx: last }); }
    var plot = new uPlot({
      width: width, height: 260, series: series,
      scales: { x: { time: true, range: function () { return [d.from, d.to]; } } },
      axes: [{ stroke: cssVar("--muted") }, { stroke: cssVar("--muted"), label: "ms" }],
      hooks: { ready: [showLatest], setCursor: [showLatest] },
    }, data, holder);
    window.webmonChart = { points: d.t.length, data: data, plot: plot,
                           labels: series.slice(1).map(function (s) { return s.label; }) };
    phases(d, width);
  }

  // The phases of the last day, stacked: dns, connect, tls, and the wait for the first byte.
  function phases(d, width) {
    var holder = document.getElementById("phases");
    if (!holder || !d.phase_t || !d.phase_t.length) return;
    var wait = d.ttfb.map(function (t, i) {
      return t == null ? null : Math.max(0, t - (d.dns[i] || 0) - (d.connect[i] || 0) - (d.tls[i] || 0));
    });
    var parts = [d.dns, d.connect, d.tls, wait];
    var names = ["dns", "connect", "tls", "wait for the first byte"];
    var colours = ["#8250df", "#0b7285", "#bf8700", "#1f883d"];
    var stacked = [], sum = d.phase_t.map(function () { return 0; });
    parts.forEach(function (part) {
      sum = sum.map(function (s, i) { return s + (part[i] || 0); });
      stacked.push(sum.slice());
    });
    var series = [{}], data = [d.phase_t];
    for (var k = stacked.length - 1; k >= 0; k--) {  // the largest first: each fills to zero
      series.push({ label: names[k] + " ms", stroke: colours[k], fill: colours[k] + "55", width: 1 });
      data.push(stacked[k]);
    }
    holder.innerHTML = "";
    var span = { time: true, range: function () { return [d.phase_from, d.to]; } };
    var last = d.phase_t.length - 1;
    function showLatest(u) { if (last >= 0 && u.cursor.idx == null) u.setLegend({ idx: last }); }
    new uPlot({ width: width, height: 180, series: series, scales: { x: span },
      axes: [{ stroke: cssVar("--muted") }, { stroke: cssVar("--muted"), label: "ms, stacked" }],
      hooks: { ready: [showLatest], setCursor: [showLatest] } },
      data, holder);
  }

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    chart();
    document.body.addEventListener("htmx:afterSettle", function () { localTimes(document); });
  });
})();
