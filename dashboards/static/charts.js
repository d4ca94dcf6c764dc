// Plotly charts. Every chart is drawn with Plotly.react and a fixed `uirevision`, so a refresh
// with new data keeps the user's zoom, pan and legend selections.
const Charts = (() => {
  const base = { margin: { l: 55, r: 15, t: 30, b: 45 }, uirevision: "keep", hovermode: "closest",
                 legend: { orientation: "h" } };
  const config = { responsive: true, displaylogo: false };
  // plotly.js 3 (the bundle in the plotly wheel) dropped string titles: always {text}.
  const title = (text) => ({ text, font: { size: 13 } });
  const axis = (text, extra) => ({ title: { text }, automargin: true, ...extra });

  // A chart div that shows a message instead: purge first, or Plotly keeps stale state on it.
  function message(el, text) {
    if (window.Plotly) Plotly.purge(el);
    el.innerHTML = `<p class="muted">${esc(text)}</p>`;
  }

  // Why a trial ended, as the server stored it (orchestrator/runner/recorder.py): every reason
  // has a `message` (a stopping rule's sentence, the trainer's "loss became NaN ...", the
  // exception of a failed trial); only a stopping rule's has iteration, value and threshold.
  function stopText(trial) {
    const r = trial.stop_reason;
    if (!r) return trial.status;
    if (r.message) return r.message;
    if (r.iteration != null) return `${r.rule} stop at iteration ${r.iteration}` +
      (r.rung != null ? ` (rung ${r.rung})` : "") +
      `: value ${fmt(r.value)} vs threshold ${fmt(r.threshold)}`;
    return `${trial.status}: ${JSON.stringify(r)}`;
  }

  function curves(el, curveMap, trials, metric) {
    const traces = [];
    for (const [id, points] of curveMap) {
      const t = trials.get(id);
      if (!t || points.length === 0) continue;
      const stopped = t.status === "early_stopped";
      const failed = t.status === "failed" || t.status === "diverged";
      const why = stopText(t);
      traces.push({
        x: points.map(p => p[0]), y: points.map(p => p[1]), mode: "lines+markers", type: "scatter",
        name: t.name, legendgroup: t.variant, showlegend: false,
        line: { width: stopped || failed ? 1 : 2, dash: stopped ? "dot" : failed ? "dash" : "solid" },
        marker: { size: 4 }, opacity: stopped ? 0.55 : 0.9,
        text: points.map(() => `${t.name} [${t.variant}] ${t.status}<br>${why}`),
        hovertemplate: "%{text}<br>epoch %{x}: %{y:.3f}<extra></extra>",
      });
    }
    Plotly.react(el, traces, { ...base, xaxis: axis("epoch (iteration)"), yaxis: axis(metric),
                               title: title("learning curves") }, config);
  }

  function bestSoFar(el, series, metric) {
    const traces = Object.entries(series).map(([stage, pts]) => ({
      x: pts.map((_, i) => i + 1), y: pts, mode: "lines+markers", marker: { size: 4 }, name: stage, type: "scatter" }));
    const longest = Math.max(0, ...Object.values(series).map(pts => pts.length));
    // whole trials only: Plotly would otherwise put ticks at 1.2, 1.4, ... on short series
    const xaxis = axis("trials with a value", longest <= 20 ? { dtick: 1 } : { tickformat: "d" });
    Plotly.react(el, traces, { ...base, xaxis, yaxis: axis("best " + metric),
                               title: title("best so far per stage") }, config);
  }

  function parallel(el, trials, space, metric) {
    const numeric = Object.entries(space || {}).filter(([, p]) => p.type === "numeric");
    if (trials.length === 0 || numeric.length === 0) { message(el, "parallel coordinates: no finished trials yet"); return; }
    const dims = numeric.map(([name, p]) => {
      const vals = trials.map(t => Number(t.config[name]));
      return p.log
        ? { label: name + " (log10)", values: vals.map(v => Math.log10(v)), range: [Math.log10(p.low), Math.log10(p.high)] }
        : { label: name, values: vals, range: [p.low, p.high] };
    });
    dims.push({ label: metric, values: trials.map(t => t.best_value) });
    Plotly.react(el, [{ type: "parcoords", dimensions: dims,
      line: { color: trials.map(t => t.best_value), colorscale: "Viridis", showscale: true } }],
      { ...base, margin: { l: 60, r: 60, t: 90, b: 30 }, title: { ...title("parallel coordinates (colour: " + metric + ")"), y: 0.98 } }, config);
  }

  function importance(el, rows) {
    if (!rows.length) { message(el, "correlation and importance: needs finished trials"); return; }
    Plotly.react(el, [
      { type: "bar", orientation: "h", name: "Spearman ρ (+: larger is better)", y: rows.map(r => r.name), x: rows.map(r => r.rho) },
      { type: "bar", orientation: "h", name: "importance (PED-ANOVA)", y: rows.map(r => r.name), x: rows.map(r => r.importance) },
    ], { ...base, barmode: "group", yaxis: axis(""), xaxis: axis("", { range: [-1, 1] }),
         title: title("correlation and importance") }, config);
  }

  function ranking(el, rows, metric) {
    if (!rows.length) { message(el, "validation has not finished"); return; }
    // A config with one seed has no interval (null): no error bar, not a bar down to zero
    // (null - mean would be -mean in JavaScript).
    const gap = (a, b) => (a == null || b == null ? 0 : a - b);
    // Markers, not bars: bars force the axis to 0 and hide differences of a few tenths.
    Plotly.react(el, [{ type: "scatter", mode: "markers", marker: { size: 10 }, x: rows.map(r => r.config), y: rows.map(r => r.mean),
      error_y: { type: "data", symmetric: false, array: rows.map(r => gap(r.ci_high, r.mean)),
                 arrayminus: rows.map(r => gap(r.mean, r.ci_low)) },
      text: rows.map(r => `n=${r.n}` + (r.ci_low == null ? " (no interval)" : ` CI [${fmt(r.ci_low)}, ${fmt(r.ci_high)}]`)),
      hovertemplate: "%{x}<br>mean %{y:.3f} %{text}<extra></extra>" }],
      { ...base, xaxis: axis("config", { type: "category" }), yaxis: axis(metric + " (mean, 95% CI)"),
        title: title("validation ranking") }, config);
  }

  return { curves, bestSoFar, parallel, importance, ranking, stopText, message };
})();

function fmt(v) {
  if (v == null || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  // 3 significant digits below 1 (a learning rate of 0.0016 must not read 0.002)
  return (a < 1 ? v.toPrecision(3) : v.toFixed(3)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
