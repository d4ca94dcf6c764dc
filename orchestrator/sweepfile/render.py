"""Human-readable rendering of :func:`orchestrator.sweepfile.plan.plan_dict` (``rungs validate``)."""

from __future__ import annotations

from typing import Any

from orchestrator.sweepfile.parse import ParsedSweep
from orchestrator.sweepfile.plan import plan_dict


def _et(et: dict[str, Any] | None) -> str:
    if et is None:
        return "no early termination"
    if et["type"] == "median":
        return f"median stopping (grace {et['grace']}, min_samples {et['min_samples']})"
    start = (
        f"min_iter={et['min_iter']}"
        if et["min_iter"] is not None
        else f"max_iter={et['max_iter']} s={et['s']}"
    )
    rungs = ", ".join(map(str, et["rungs"])) or "none within the epochs"
    text = (
        f"hyperband {start} eta={et['eta']:g}{' strict' if et['strict'] else ''} -> rungs {rungs}"
    )
    return text + (f" ({et['note']})" if "note" in et else "")


def _stage_lines(i: int, st: dict[str, Any]) -> list[str]:
    head = f"stage {i}  {st['name']}: subset {st['subset']}, {st['method']}, {st['epochs']} epochs, {st['trials']} trials"
    nar = st["narrowing"]
    if nar is not None and not nar.get("enabled", True):
        head += "; full space (narrowing off)"
        head += f", warm-started from {nar['from']}" if st["warm_start"] else ""
    elif nar is not None:
        top = f"top {nar['top_count']}" if nar["top_count"] else f"top {nar['top']:.0%}"
        head += f"; space narrowed from {nar['from']} ({top}, margin {nar['margin']:g}, min width {nar['min_width']:g})"
        if nar.get("agreement_with"):
            head += f" if it ranks configs like {nar['agreement_with']} (rank agreement >= {nar['min_agreement']:g}, else the full space)"
            if nar.get("trials_by_agreement"):
                head += "; trials x min(1, 2 (1 - agreement)), at least a quarter"
        head += ", warm-started" if st["warm_start"] else ""
    lines = [head]
    for v in st["variants"]:
        lines.append(f"    {v['name']}: {v['trials']} trials, {_et(v['early_terminate'])}")
    return lines


def _param_line(name: str, p: dict[str, Any], width: int) -> str:
    if "value" in p:
        desc = f"= {p['value']!r}"
    elif "values" in p:
        desc = "one of " + ", ".join(map(repr, p["values"]))
        desc += f" (p={p['probabilities']})" if p["probabilities"] else ""
    else:
        desc = f"[{p['low']:.4g}, {p['high']:.4g}] {p['scale']}"
        desc += ", integer" if p["integer"] else ""
        desc += f", q={p['q']:g}" if p["q"] else ""
        desc += f", normal(mu={p['mu']:g}, sigma={p['sigma']:g})" if p["prior"] == "normal" else ""
        desc += f", beta(a={p['alpha']:g}, b={p['beta']:g})" if p["prior"] == "beta" else ""
    return f"  {name:<{width}}  {p['distribution']:<22}  {desc}"


def render_plan(parsed: ParsedSweep) -> str:
    """The resolved plan of a valid sweep file as text, one block per pipeline step."""
    plan = plan_dict(parsed.spec)
    m, d, r = plan["model"], plan["dataset"], plan["resources"]
    metric = f"metric {plan['metric']['name']} ({plan['metric']['goal']})"
    if plan["program"] is not None:  # a user's script reads its own data
        given = ", ".join(f"{k} -> {v}" for k, v in plan["program"]["parameters"].items())
        what = [
            f"your program {plan['program']['path']}, {metric}; stage values: {given or 'none'}"
        ]
    else:
        what = [
            f"model {m['name']} (preset {m['preset']}), {metric}",
            f"data: {d['kind']}, {d['sample_rate']} Hz, {d['segment_seconds']:g} s segments, {d['valid_size']} validation mixtures",
        ]
    lines = [
        f"sweep {plan['name']} ({parsed.filename})",
        *what,
        f"resources per trial: {r['cpus_per_trial']:g} CPU, {r['gpus_per_trial']:g} GPU; max concurrent {r['max_concurrent'] or 'unlimited'}",
        "",
    ]
    for i, st in enumerate(plan["stages"], start=1):
        lines += _stage_lines(i, st)
    width = max((len(n) for n in plan["space"]), default=4)
    lines += ["", "space:"] + [_param_line(n, p, width) for n, p in plan["space"].items()]
    sel, val, b = plan["selection"], plan["validation"], plan["budget"]
    balance = (
        f", balanced across variants (tolerance {sel['balance_tolerance']:g})"
        if sel["balance_variants"]
        else ""
    )
    lines += [
        "",
        f"selection: top-{sel['k']} from {', '.join(sel['from_stages'])}, diversity {sel['diversity']:g}{balance}"
        + (", full-budget trials only" if sel["require_full_budget"] else ""),
    ]
    if val["enabled"]:
        seeds = ", ".join(map(str, val["seeds"]))
        lines.append(
            f"validation: {val['configs']} configs x {len(val['seeds'])} seeds ({seeds}) on subset {val['subset']}, {val['epochs']} epochs = {val['runs']} runs"
        )
    else:
        lines.append("validation: disabled")
    lines.append(
        f"budget: {b['total_trials']} trials ({b['search_trials']} search + {b['validation_runs']} validation), "
        f"at most {b['sample_epochs']:,} sample-epochs"
    )
    if parsed.warnings:
        lines.append(f"{len(parsed.warnings)} warning(s)")
    return "\n".join(lines)
