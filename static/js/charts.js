/* Draw every <canvas data-chart="ID"> from the JSON spec in <script id="ID"> (written by the
 * server with json_script; labeling/charts.py says what a spec holds), with Chart.js and its
 * date-fns adapter (vendored). Runs on page load and on every htmx swap. */
(function () {
  "use strict";
  const DAY = 24 * 3600 * 1000;

  function dataset(series, spec) {
    const points = series.points.map(([x, y]) => (spec.x === "category" ? y : { x: x, y: y }));
    return {
      label: series.label,
      data: points,
      borderColor: series.colour,
      backgroundColor: spec.type === "bar" ? series.colour : series.colour + "33",
      borderWidth: spec.type === "line" ? 2 : 0,
      pointRadius: spec.type === "line" ? 3 : 0,
      pointHoverRadius: 5,
      tension: 0,
      spanGaps: false,
      maxBarThickness: 36,
    };
  }

  function xScale(spec) {
    const scale = { title: { display: Boolean(spec.x_title), text: spec.x_title || "" }, grid: { display: false } };
    if (spec.x === "time") {
      const xs = spec.series.flatMap((s) => s.points.map((p) => Date.parse(p[0])));
      const lo = Math.min(...xs), hi = Math.max(...xs);
      Object.assign(scale, {
        type: "time",
        offset: spec.type === "bar",
        time: { unit: hi - lo > 120 * DAY ? "month" : "day", tooltipFormat: "PP", displayFormats: { day: "MMM d", month: "MMM yyyy" } },
        ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 },
      });
      if (hi - lo < DAY) { // a single day: show it mid-axis, not stretched over the width
        scale.min = lo - DAY;
        scale.max = hi + DAY;
      }
    } else if (spec.x === "linear") {
      scale.type = "linear";
      scale.beginAtZero = true;
      scale.ticks = { precision: 0 };
    } else {
      scale.type = "category";
    }
    return scale;
  }

  function yScale(spec) {
    const y = spec.y || {};
    return {
      min: y.min, max: y.max, beginAtZero: true,
      title: { display: Boolean(y.title), text: y.title || "" },
      ticks: y.percent ? { callback: (v) => v + "%" } : { precision: 2 },
    };
  }

  function draw(canvas) {
    if (canvas.dataset.drawn) return;
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || !window.Chart) return;
    const spec = JSON.parse(source.textContent);
    const horizontal = Boolean(spec.horizontal);
    const scales = { x: xScale(spec), y: yScale(spec) };
    if (horizontal) { // category axis on y, values along x
      scales.x = Object.assign(yScale(spec), { stacked: spec.stacked });
      scales.y = { type: "category", stacked: spec.stacked, grid: { display: false } };
    } else if (spec.stacked) {
      scales.x.stacked = scales.y.stacked = true;
    }
    const percent = spec.y && spec.y.percent;
    canvas.dataset.drawn = "1";
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.series.map((s) => dataset(s, spec)) },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: spec.x === "category" ? "index" : "nearest", intersect: false },
        scales: scales,
        plugins: {
          legend: { display: spec.series.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: (item) => {
                const value = horizontal ? item.parsed.x : item.parsed.y;
                const shown = percent ? value.toFixed(1) + "%" : Number.isInteger(value) ? value : value.toFixed(3);
                return item.dataset.label + ": " + shown;
              },
            },
          },
        },
      },
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", () => drawAll(document));
  document.addEventListener("htmx:load", (event) => drawAll(event.detail.elt));
})();
