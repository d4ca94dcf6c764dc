// Plotly charts. Every chart is drawn with Plotly.react and a fixed `uirevision`, so a refresh
// with new data keeps the user's zoom, pan and legend selections.
const Charts = (() => {
  const base = { margin: { l: 55, r: 15, t: 30, b: 45 }, uirevision: "keep", hovermode: "closest",
                 legend: { orientation: "h" } };
  const config = { responsive: true, displaylogo: false };

  function stopText(trial) {
    const r = trial.stop_reason;
    if (!r) return trial.status;
    if (r.description) return r.description;
    if (r.rule) return `${r.rule} stop at iteration ${r.iteration}` +
      (r.rung != null ? ` (rung ${r.rung})` : "") +
      `: value ${fmt(r.value)} vs threshold ${fmt(r.threshold)}`;
    return r.message || JSON.stringify(r);
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
    Plotly.react(el, traces, { ...base, xaxis: { title: "epoch (iteration)" },
                                yaxis: { title: metric }, title: { text: "learning curves", font: { size: 13 } } }, config);
  }

  function bestSoFar(el, series, metric) {
    const traces = Object.entries(series).map(([stage, pts]) => ({
      x: pts.map((_, i) => i + 1), y: pts, mode: "lines", name: stage, type: "scatter" }));
    Plotly.react(el, traces, { ...base, xaxis: { title: "trials finished" }, yaxis: { title: "best " + metric },
                                title: { text: "best so far per stage", font: { size: 13 } } }, config);
  }

  function parallel(el, trials, space, metric) {
    const numeric = Object.entries(space || {}).filter(([, p]) => p.type === "numeric");
    if (trials.length === 0 || numeric.length === 0) { el.innerHTML = '<p class="muted">no data yet</p>'; return; }
    const dims = numeric.map(([name, p]) => {
      const vals = trials.map(t => Number(t.config[name]));
      return p.log
        ? { label: name + " (log10)", values: vals.map(v => Math.log10(v)), range: [Math.log10(p.low), Math.log10(p.high)] }
        : { label: name, values: vals, range: [p.low, p.high] };
    });
    dims.push({ label: metric, values: trials.map(t => t.best_value) });
    Plotly.react(el, [{ type: "parcoords", dimensions: dims,
      line: { color: trials.map(t => t.best_value), colorscale: "Viridis", showscale: true } }],
      { ...base, margin: { l: 60, r: 60, t: 50, b: 30 } }, config);
  }

  function importance(el, rows) {
    if (!rows.length) { el.innerHTML = '<p class="muted">needs finished trials</p>'; return; }
    Plotly.react(el, [
      { type: "bar", orientation: "h", name: "Spearman ρ", y: rows.map(r => r.name), x: rows.map(r => r.rho) },
      { type: "bar", orientation: "h", name: "importance", y: rows.map(r => r.name), x: rows.map(r => r.importance) },
    ], { ...base, barmode: "group", title: { text: "correlation and importance", font: { size: 13 } } }, config);
  }

  function ranking(el, rows, metric) {
    if (!rows.length) { el.innerHTML = '<p class="muted">validation has not finished</p>'; return; }
    Plotly.react(el, [{ type: "bar", x: rows.map(r => r.config), y: rows.map(r => r.mean),
      error_y: { type: "data", symmetric: false, array: rows.map(r => r.ci_high - r.mean),
                 arrayminus: rows.map(r => r.mean - r.ci_low) },
      hovertemplate: "%{x}<br>mean %{y:.3f}<extra></extra>" }],
      { ...base, yaxis: { title: metric + " (mean, 95% CI)" }, title: { text: "validation ranking", font: { size: 13 } } }, config);
  }

  return { curves, bestSoFar, parallel, importance, ranking, stopText };
})();

function fmt(v) {
  if (v == null || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toFixed(3).replace(/\.?0+$/, "");
}
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
