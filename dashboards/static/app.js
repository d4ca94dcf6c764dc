// Rungs dashboard: a sweep list (#/) and a sweep page (#/sweep/ID) that refreshes itself while
// the sweep runs. Refreshes fetch only what is new (results after a cursor) and redraw with
// Plotly.react, so zoom, filters and paging survive every update.
const REFRESH_MS = 3000;
let timer = null;

function route() {
  clearTimeout(timer);
  const m = location.hash.match(/^#\/sweep\/(\d+)/);
  if (m) SweepPage.open(Number(m[1])); else ListPage.open();
}
window.addEventListener("hashchange", route);
window.addEventListener("load", route);

// The server's state machine (stages/states.py): its lists, never copies of them. Fetched once;
// a failed fetch is retried on the next refresh.
let statesOnce = null;
function states() {
  return statesOnce || (statesOnce = Api.states().catch(e => { statesOnce = null; throw e; }));
}
function isLive(machine, state) { return !machine.final.includes(state); }
function setLive(on) { document.getElementById("live").classList.toggle("on", on); }
function stateBadge(s) { return `<span class="state ${esc(s)}">${esc(s)}</span>`; }
// How a search stage's space was made (the runner's one-line summary: narrowed, or kept whole
// because the subsets disagreed); the per-parameter notes show on hover.
function spaceNote(plan) {
  if (!plan.space_summary) return "";
  const hover = Object.entries(plan.narrowing_notes || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  return `<div class="sub" title="${esc(hover)}">${esc(plan.space_summary)}</div>`;
}
function bar(done, planned) {
  const pct = planned ? Math.min(100, Math.round(100 * done / planned)) : 0;
  return `<div class="bar" title="${done}/${planned}"><span style="width:${pct}%"></span></div>`;
}
function hms(sec) { const h = Math.floor(sec / 3600), m = Math.floor(sec % 3600 / 60); return h ? `${h}h${m}m` : `${m}m${Math.round(sec % 60)}s`; }

const ListPage = {
  async open() {
    const app = document.getElementById("app");
    try {
      const [sweeps, machines] = await Promise.all([Api.sweeps(), states()]);
      const rows = sweeps.map(s => `<tr class="click" data-id="${s.id}">
        <td>${s.id}</td><td>${esc(s.name)}</td><td>${stateBadge(s.state)}</td><td>${esc(s.model)}</td>
        <td>${esc(s.metric)} (${s.goal === "maximize" ? "max" : "min"})</td><td>${fmt(s.best_value)}</td>
        <td>${bar(s.trials_done, s.trials_planned)} <span class="muted">${s.trials_done}/${s.trials_planned}</span></td>
        <td>${hms(s.compute_seconds)}</td><td class="muted">${new Date(s.created_at).toLocaleString()}</td></tr>`).join("");
      app.innerHTML = `<h1>Sweeps</h1><div class="card"><table id="sweeps"><thead><tr><th>id</th><th>name</th><th>state</th>
        <th>model</th><th>metric</th><th>best</th><th>progress</th><th>compute</th><th>created</th></tr></thead>
        <tbody>${rows || '<tr><td colspan="9" class="muted">No sweeps yet: submit one with `rungs run` or POST /api/sweeps.</td></tr>'}</tbody></table></div>`;
      app.querySelectorAll("tr.click").forEach(tr => tr.onclick = () => location.hash = `#/sweep/${tr.dataset.id}`);
      const live = sweeps.some(s => isLive(machines.sweep, s.state));
      setLive(live);
      timer = setTimeout(route, live ? REFRESH_MS : 4 * REFRESH_MS);
    } catch (e) { app.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  },
};

const SweepPage = {
  state: null,

  async open(id) {
    let machines;
    try {
      machines = await states();
      if (!this.state || this.state.id !== id) this.reset(id, machines.trial.states);
      await this.refresh();
    } catch (e) {
      document.getElementById("app").innerHTML = `<p class="error">${esc(e.message)}</p>`; return;
    }
    const live = isLive(machines.sweep, this.state.sweep.state);
    setLive(live);
    timer = setTimeout(() => this.open(id), live ? REFRESH_MS : 5 * REFRESH_MS);
  },

  reset(id, trialStates) {
    this.state = { id, sweep: null, stage: null, stagePinned: false, cursor: 0, curves: new Map(), trials: new Map(),
                   table: { stage: "", variant: "", status: "", sort: "id", order: "asc", offset: 0, limit: 50 },
                   k: null, tick: 0 };  // k null: the sweep's own k, i.e. its stored picks
    document.getElementById("app").innerHTML = this.skeleton(trialStates);
    this.bindControls();
  },

  skeleton(trialStates) {
    return `<div id="head"></div>
    <div class="card"><h2>Pipeline</h2><div id="pipeline" class="pipeline"></div></div>
    <div class="card"><div class="toolbar">Stage <select id="stage-pick"></select>
      <span class="muted">dotted lines: stopped early (hover says why); dashed: failed or diverged</span></div>
      <div class="grid2"><div id="curves" class="chart"></div><div id="best" class="chart"></div></div></div>
    <div class="card grid2"><div id="parallel" class="chart"></div><div id="importance" class="chart"></div></div>
    <div class="card"><h2>Trials</h2><div class="toolbar">
      <select id="f-stage"><option value="">all stages</option></select>
      <select id="f-variant"><option value="">all variants</option></select>
      <select id="f-status"><option value="">any status</option>${trialStates.map(s => `<option>${esc(s)}</option>`).join("")}</select>
      <button id="prev">‹ prev</button><span id="page" class="muted"></span><button id="next">next ›</button></div>
      <div style="overflow-x:auto"><table id="trials"></table></div>
      <div id="trial-view" class="trial-view" hidden></div></div>
    <div class="card"><h2>Top configs</h2><div class="toolbar">k <input id="k" type="number" min="1" max="50" style="width:4em">
      <button class="primary" id="csv-button">Download CSV</button><span id="top-label" class="pick-source"></span></div>
      <div style="overflow-x:auto"><table id="top"></table></div></div>
    <div class="card"><h2>Final validation</h2><div class="grid2"><div id="ranking" class="chart"></div><div id="ranking-text"></div></div></div>`;
  },

  bindControls() {
    const s = () => this.state;
    const q = (id) => document.getElementById(id);
    q("stage-pick").onchange = (e) => { s().stagePinned = true; this.showStage(e.target.value); this.refresh(); };
    for (const key of ["stage", "variant", "status"]) {
      q("f-" + key).onchange = (e) => { s().table[key] = e.target.value; s().table.offset = 0; this.drawTrials(); };
    }
    q("prev").onclick = () => { s().table.offset = Math.max(0, s().table.offset - s().table.limit); this.drawTrials(); };
    q("next").onclick = () => { s().table.offset += s().table.limit; this.drawTrials(); };
    q("csv-button").onclick = () => Api.downloadTopCsv(s().id, s().k).catch(e => alert(e.message));
    q("k").onchange = (e) => { s().k = Number(e.target.value) || null; this.drawTop(); };
  },

  async refresh() {
    const st = this.state;
    st.sweep = await Api.sweep(st.id);
    this.drawHead(); this.drawPipeline(); this.fillStagePickers();
    await this.drawCurves();
    await this.drawTrials();
    // Heavier panels refresh every few ticks, and always on the first draw.
    if (st.tick++ % 5 === 0) await Promise.all([this.drawTop(), this.drawRanking(), this.drawAnalysis()]);
  },

  drawHead() {
    const s = this.state.sweep;
    document.getElementById("head").innerHTML = `<h1>${esc(s.name)} ${stateBadge(s.state)}</h1>
      <p class="muted">sweep ${s.id} · model ${esc(s.model)} · ${esc(s.metric)} (${s.goal}) · best <b>${fmt(s.best_value)}</b> ·
      ${s.trials_done}/${s.trials_planned} trials · compute ${hms(s.compute_seconds)}
      ${s.error ? `<br><span class="error">${esc(s.error)}</span>` : ""}</p>`;
  },

  drawPipeline() {
    const steps = this.state.sweep.stages.map(st => {
      const plan = st.plan || {};
      const sub = st.kind === "search" ? `${plan.subset ?? "?"} samples · ${(plan.variants || []).map(v => v.name).join(" | ") || plan.method || ""}`
        : st.kind === "select" ? `top-${plan.k ?? "?"}` : `${plan.subset ?? "?"} samples × ${(plan.seeds || []).length} seeds`;
      return `<div class="step ${esc(st.state)}"><div class="title">${esc(st.name)}</div><div class="sub">${esc(sub)}</div>${spaceNote(plan)}
        <div>${stateBadge(st.state)} ${st.kind === "select" ? "" : `<span class="muted">best ${fmt(st.best_value)}</span>`}</div>
        ${st.kind === "select" ? `<div class="sub">${((st.summary || {}).picks || []).length} configs picked</div>`
          : `${bar(st.trials_done, st.trials_planned)}<div class="sub">${st.trials_done}/${st.trials_planned} trials</div>`}</div>`;
    });
    document.getElementById("pipeline").innerHTML = steps.join('<div class="arrow">→</div>') || '<p class="muted">queued</p>';
  },

  showStage(name) {
    const st = this.state;
    st.stage = name; st.curves.clear(); st.cursor = 0;
    document.getElementById("stage-pick").value = name;
  },

  fillStagePickers() {
    const st = this.state, stages = st.sweep.stages.filter(s => s.kind !== "select");
    // Follow the running stage until the user picks one; then keep their choice.
    const live = stages.find(s => s.state === "running") || stages[stages.length - 1];
    if (live && !st.stagePinned && st.stage !== live.name) {
      if (st.stage) this.showStage(live.name); else st.stage = live.name;
    }
    const fill = (id, names, keepFirst) => {
      const el = document.getElementById(id);
      const want = (keepFirst ? [""] : []).concat(names).join("|");
      if (el.dataset.opts === want) return;  // rebuilding would reset the user's choice
      const first = keepFirst ? el.options[0].outerHTML : "";
      el.innerHTML = first + names.map(n => `<option>${esc(n)}</option>`).join("");
      el.dataset.opts = want;
      if (id === "stage-pick") el.value = st.stage; else el.value = st.table[id.slice(2)];
    };
    fill("stage-pick", stages.map(s => s.name), false);
    fill("f-stage", stages.map(s => s.name), true);
    const variants = new Set(["validation"]);
    for (const s of st.sweep.stages) for (const v of ((s.plan || {}).variants || [])) variants.add(v.name);
    fill("f-variant", [...variants], true);
  },

  async drawCurves() {
    const st = this.state, metric = st.sweep.metric;
    if (!st.stage) return;
    if (st.cursor === 0) {
      const data = await Api.curves(st.id, { stage: st.stage, limit: 100, max_points: 200, metric });
      st.cursor = data.cursor;
      for (const c of data.curves) { st.trials.set(c.trial.id, c.trial); st.curves.set(c.trial.id, c.points.map(p => [p.step, p.metrics[metric]])); }
    } else {
      const batch = await Api.resultsAfter(st.id, st.cursor);
      st.cursor = batch.cursor;
      for (const r of batch.items) {
        if (!st.curves.has(r.trial_id)) st.curves.set(r.trial_id, []);
        const pts = st.curves.get(r.trial_id);
        if (!pts.some(p => p[0] === r.step)) { pts.push([r.step, r.metrics[metric]]); pts.sort((a, b) => a[0] - b[0]); }
      }
      const page = await Api.trials(st.id, { stage: st.stage, sort: "id", order: "desc", limit: 200 });
      for (const t of page.items) st.trials.set(t.id, t);
    }
    const inStage = new Map([...st.curves].filter(([id]) => (st.trials.get(id) || {}).stage === st.stage));
    Charts.curves(document.getElementById("curves"), inStage, st.trials, metric);
    const byStage = {};
    const ordered = [...st.trials.values()].filter(t => t.best_value != null).sort((a, b) => a.id - b.id);
    const better = st.sweep.goal === "maximize" ? Math.max : Math.min;
    for (const t of ordered) { const arr = byStage[t.stage] || (byStage[t.stage] = []); arr.push(arr.length ? better(arr[arr.length - 1], t.best_value) : t.best_value); }
    Charts.bestSoFar(document.getElementById("best"), byStage, metric);
  },

  async drawTrials() {
    const st = this.state, tb = st.table;
    const q = { sort: tb.sort, order: tb.order, limit: tb.limit, offset: tb.offset };
    for (const key of ["stage", "variant", "status"]) if (tb[key]) q[key] = tb[key];
    const page = await Api.trials(st.id, q);
    const params = [...new Set(page.items.flatMap(t => Object.keys(t.config)))].sort();
    const sortable = { id: "id", best_value: "best", epochs: "epochs", compute_seconds: "time" };
    const head = ["id", "name", "stage", "variant", "status", "best_value", "epochs", "compute_seconds"]
      .map(c => sortable[c] ? `<th class="sortable" data-sort="${c}">${sortable[c]}${tb.sort === c ? (tb.order === "asc" ? " ▲" : " ▼") : ""}</th>` : `<th>${c}</th>`)
      .join("") + params.map(p => `<th>${esc(p)}</th>`).join("") + "<th>why stopped</th>";
    const rows = page.items.map(t => `<tr class="clickable" data-id="${t.id}" title="show this trial's output"><td>${t.id}</td><td>${esc(t.name)}</td><td>${esc(t.stage)}</td><td>${esc(t.variant)}</td>
      <td>${stateBadge(t.status)}</td><td>${fmt(t.best_value)}</td><td>${t.epochs}</td><td>${hms(t.compute_seconds)}</td>
      ${params.map(p => `<td>${fmt(t.config[p])}</td>`).join("")}<td class="muted">${t.stop_reason ? esc(Charts.stopText(t)) : ""}</td></tr>`).join("");
    const table = document.getElementById("trials");
    table.innerHTML = `<thead><tr>${head}</tr></thead><tbody>${rows}</tbody>`;
    const byId = new Map(page.items.map(t => [t.id, t]));
    table.querySelectorAll("tbody tr").forEach(tr => tr.onclick = () => this.showTrial(byId.get(Number(tr.dataset.id))));
    table.querySelectorAll("th.sortable").forEach(th => th.onclick = () => {
      tb.order = tb.sort === th.dataset.sort && tb.order === "desc" ? "asc" : "desc"; tb.sort = th.dataset.sort; tb.offset = 0; this.drawTrials();
    });
    const last = Math.min(page.total, tb.offset + tb.limit);
    document.getElementById("page").textContent = page.total ? `${tb.offset + 1}–${last} of ${page.total}` : "no trials";
  },

  // One trial: why it stopped, and for a user's program the end of its stdout and stderr.
  async showTrial(t) {
    const view = document.getElementById("trial-view");
    const tail = async (stream) => {
      try {
        const log = await Api.trialLog(t.id, stream, 200);
        return (log.truncated ? "…\n" : "") + log.lines.join("\n");
      } catch (e) { return null; }
    };
    const [out, err] = await Promise.all([tail("stdout"), tail("stderr")]);
    const reason = t.stop_reason ? (t.stop_reason.message || Charts.stopText(t)) : "";
    const block = (title, text) => text == null ? "" : `<h3>${title}</h3><pre class="log">${esc(text) || "(empty)"}</pre>`;
    view.innerHTML = `<h3>${esc(t.name)} · ${esc(t.stage)} · ${stateBadge(t.status)} <button id="close-trial">close</button></h3>
      ${reason ? `<pre class="log">${esc(reason)}</pre>` : ""}
      ${out == null && err == null ? `<p class="muted">no output kept: only a user's program (program:) has logs</p>` : ""}
      ${block("stdout (last 200 lines)", out)}${block("stderr (last 200 lines)", err)}`;
    view.hidden = false;
    document.getElementById("close-trial").onclick = () => { view.hidden = true; };
  },

  // The server's top-k: the stored picks (the validated set) unless it says it is a preview or
  // a re-computation for another k; its label is always shown, and a pick reads "config5 (median-001)".
  async drawTop() {
    const st = this.state;
    const table = document.getElementById("top"), label = document.getElementById("top-label");
    try {
      const top = await Api.top(st.id, st.k);
      label.className = `pick-source ${top.source}`;
      label.textContent = top.label;
      if (st.k == null) document.getElementById("k").value = top.k;
      if (!top.rows.length) { table.innerHTML = `<tr><td class="muted">${esc(top.note || "no finished trials yet")}</td></tr>`; return; }
      const cols = Object.keys(top.rows[0]).filter(c => c !== "source");
      const cell = (r, c) => c === "name" ? (r.name == null ? "–" : r.name) + ` (${r.source})` : fmt(r[c]);
      table.innerHTML = `<thead><tr>${cols.map(c => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>` +
        top.rows.map(r => `<tr>${cols.map(c => `<td>${esc(cell(r, c))}</td>`).join("")}</tr>`).join("") + "</tbody>";
    } catch (e) { label.textContent = ""; table.innerHTML = `<tr><td class="muted">${esc(e.message)}</td></tr>`; }
  },

  async drawRanking() {
    const st = this.state;
    try {
      const r = await Api.ranking(st.id);
      Charts.ranking(document.getElementById("ranking"), r.rows, st.sweep.metric);
      document.getElementById("ranking-text").innerHTML = `<p>${esc(r.verdict || "")}</p>` +
        (r.caveats || []).map(c => `<p class="muted">${esc(c)}</p>`).join("");
    } catch (e) { Charts.message(document.getElementById("ranking"), e.message); document.getElementById("ranking-text").innerHTML = ""; }
  },

  async drawAnalysis() {
    const st = this.state;
    // validation stages store no space of their own: chart them on the first stage's (the sweep's)
    const stage = st.sweep.stages.find(s => s.name === st.stage);
    const space = (stage && stage.space) || (st.sweep.stages.find(s => s.space) || {}).space;
    const page = await Api.trials(st.id, { stage: st.stage, sort: "best_value", order: st.sweep.goal === "maximize" ? "desc" : "asc", limit: 500 });
    const withValue = page.items.filter(t => t.best_value != null);
    Charts.parallel(document.getElementById("parallel"), withValue, space, st.sweep.metric);
    try {
      const report = await Api.analysis(st.id);
      const rows = ((report.parameters || {})[st.stage] || report.parameters_overall || []);
      Charts.importance(document.getElementById("importance"), rows);
    } catch (e) { Charts.message(document.getElementById("importance"), e.message); }
  },
};
