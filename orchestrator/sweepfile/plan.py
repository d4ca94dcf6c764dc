"""The resolved plan of a sweep: what ``rungs validate`` prints and the API shows before a run.

The budget is an upper bound: trials that early termination stops use fewer epochs.
``sample_epochs`` = sum over stages and variants of subset x epochs x trials, plus validation's
subset x epochs x k x seeds.
"""

from __future__ import annotations

from typing import Any

from orchestrator.sweepfile.serialize import early_terminate_to_dict, program_to_dict
from stages.hyperband import hyperband_rungs
from stages.space import Categorical, Constant, Param
from stages.spec import EarlyTerminate, Hyperband, Stage, SweepSpec


def _early_terminate(et: EarlyTerminate | None, epochs: int) -> dict[str, Any] | None:
    out = early_terminate_to_dict(et)
    if isinstance(et, Hyperband) and out is not None:
        out["rungs"] = hyperband_rungs(et, max_epochs=epochs)
        if et.min_iter is not None and et.s is not None:
            out["note"] = "s is ignored by W&B when min_iter is given"
    return out


def _param(param: Param) -> dict[str, Any]:
    if isinstance(param, Constant):
        return {"distribution": param.source, "value": param.value}
    if isinstance(param, Categorical):
        probs = list(param.probabilities) if param.probabilities else None
        return {"distribution": param.source, "values": list(param.values), "probabilities": probs}
    out: dict[str, Any] = {
        "distribution": param.source,
        "low": param.low,
        "high": param.high,
        "scale": "log" if param.log else "linear",
        "integer": param.integer,
        "q": param.q,
        "prior": param.prior,
    }
    if param.prior == "normal":
        out |= {"mu": param.mu, "sigma": param.sigma}
    if param.prior == "beta":
        out |= {"alpha": param.alpha, "beta": param.beta}
    return out


def _stage(stage: Stage, spec: SweepSpec) -> dict[str, Any]:
    variants = [
        {
            "name": v.name,
            "trials": v.trials,
            "early_terminate": _early_terminate(v.early_terminate, stage.epochs),
            "sample_epochs": stage.subset * stage.epochs * v.trials,
        }
        for v in stage.effective_variants()
    ]
    narrowing = None
    if stage.narrow_from is not None:
        narrowing = {
            "from": stage.narrow_from,
            **vars(stage.narrowing),
            "agreement_with": spec.agreement_stage(stage),
        }
    return {
        "name": stage.name,
        "subset": stage.subset,
        "method": stage.method,
        "epochs": stage.epochs,
        "trials": stage.total_trials,
        "warm_start": stage.warm_start and stage.narrow_from is not None,
        "narrowing": narrowing,
        "variants": variants,
    }


def plan_dict(spec: SweepSpec) -> dict[str, Any]:
    """The resolved plan, JSON-safe."""
    stages = [_stage(s, spec) for s in spec.stages]
    last = spec.stages[-1] if spec.stages else None
    val = spec.validation
    val_epochs = val.epochs or (last.epochs if last else 0)
    val_runs = spec.validation_runs
    search_se = sum(v["sample_epochs"] for s in stages for v in s["variants"])
    val_se = val.subset * val_epochs * val_runs
    return {
        "name": spec.name,
        "model": {
            "name": spec.model.name,
            "preset": spec.model.preset,
            "fixed": dict(spec.model.fixed),
        },
        "metric": {
            "name": spec.metric.name,
            "goal": spec.metric.goal,
            "target": spec.metric.target,
        },
        "program": program_to_dict(spec.program),
        "dataset": vars(spec.dataset).copy(),
        "resources": vars(spec.resources).copy(),
        "space": {name: _param(p) for name, p in spec.parameters.items()},
        "stages": stages,
        "selection": {
            **vars(spec.selection),
            "from_stages": list(spec.selection.from_stages or ([last.name] if last else [])),
        },
        "validation": {
            "enabled": val.enabled,
            "subset": val.subset,
            "seeds": list(val.seeds),
            "epochs": val_epochs,
            "configs": spec.selection.k if val.enabled else 0,
            "runs": val_runs,
        },
        "budget": {
            "search_trials": spec.search_trials,
            "validation_runs": val_runs,
            "total_trials": spec.total_trials,
            "sample_epochs": search_se + val_se,
        },
    }
