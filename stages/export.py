"""Tables in and out: the top-k CSV for validation, W&B run-table exports, an inferred space.

The CSV is the hand-off to the validation runs, as in a researcher's progressive DPRNN sweep on
PolSESS (its ``top5_configs_for_validation.csv``: each pick's run name, source sweep, SI-SDR and
hyperparameters); :func:`write_csv` makes it safe to open in a spreadsheet.
:func:`read_wandb_export` lets ``rungs select`` work on a sweep that ran on W&B, and
:func:`infer_space` supplies the normalisation bounds when no sweep YAML is given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from stages.selection import Pick
from stages.space import Categorical, Constant, Numeric, Param, Space
from stages.trials import FINISHED, TrialSummary

DEFAULT_CSV_NAME = "top5_configs_for_validation.csv"
# OWASP's CSV-injection characters, the fullwidth forms spreadsheets also accept, and "|" (DDE:
# `|calc`); a cell is a formula when one of them comes first, even after leading whitespace
# (a spreadsheet trims " =1+1" and runs it).
_FORMULA_STARTS = ("=", "+", "-", "@", "|", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# whitespace a spreadsheet skips before a formula: tab, CR and LF start one themselves (OWASP),
# str.isspace covers the others (no-break and other Unicode spaces); zero-width characters are
# not whitespace to Python, so they are named here
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
# name: the pick's name (config<rank>, what validation calls it); source: the trial it came from
_LEADING = ("rank", "name", "source", "trial_id", "stage", "variant")
# W&B run-table columns that describe the run, not its config or its metric.
_WANDB_META = {
    "name", "state", "notes", "user", "tags", "created", "runtime", "sweep", "id", "run id",
    "group", "job type", "hostname", "gpu", "gpu count", "updated", "end time", "commit",
}  # fmt: skip
# W&B state -> TrialSummary status (killed runs are the ones a stopping rule ended).
_WANDB_STATES = {"finished": FINISHED, "killed": "early_stopped", "running": "running"}

log = logging.getLogger(__name__)


def picks_to_frame(
    picks: Sequence[Pick],
    space: Space,
    metric: str = "metric",
    names: Sequence[str | None] | None = None,
) -> pd.DataFrame:
    """One row per pick: rank, name, source, trial_id, stage, variant, ``metric``, every
    hyperparameter of ``space`` (in its order, then config keys outside it, sorted),
    distance_to_nearest. ``name`` is :attr:`Pick.name` unless ``names`` gives one per pick;
    ``source`` is the name of the trial the pick came from."""
    extra = sorted({k for p in picks for k in p.trial.config if k not in space})
    params = [*space, *extra]
    clash = set(params) & {*_LEADING, metric, "distance_to_nearest"}
    if clash:
        raise ValueError(f"hyperparameter names {sorted(clash)} clash with the table's columns")
    if names is None:
        names = [p.name for p in picks]
    rows = []
    for p, name in zip(picks, names, strict=True):
        t = p.trial
        row: dict[str, Any] = dict(
            zip(_LEADING, (p.rank, name, t.name, t.id, t.stage, t.variant), strict=True)
        )
        row[metric] = t.value
        row.update({name: t.config.get(name) for name in params})
        row["distance_to_nearest"] = p.distance_to_nearest
        rows.append(row)
    return pd.DataFrame(rows, columns=[*_LEADING, metric, *params, "distance_to_nearest"])


def _neutralise(cell: Any) -> Any:
    """A string a spreadsheet would run as a formula gets a leading apostrophe (OWASP's CSV
    injection advice); numbers and other strings stay as they are.

    >>> [_neutralise(c) for c in ("=1+1", " @SUM(A1)", "-3", "lr", -3)]
    ["'=1+1", "' @SUM(A1)", "'-3", 'lr', -3]
    """
    if not isinstance(cell, str):
        return cell
    if cell.startswith(("\t", "\r", "\n", "\x00")) or _without_leading_blanks(cell).startswith(
        _FORMULA_STARTS
    ):
        return "'" + cell
    return cell


def _without_leading_blanks(text: str) -> str:
    start = 0
    while start < len(text) and (text[start].isspace() or text[start] in _INVISIBLE):
        start += 1
    return text[start:]


def write_csv(df: pd.DataFrame, path: str | Path = DEFAULT_CSV_NAME) -> Path:
    """Write ``df`` with formula-like strings neutralised (headers too); numbers untouched.
    A directory ``path`` gets :data:`DEFAULT_CSV_NAME` inside it. Returns the file written."""
    target = Path(path)
    if target.is_dir():
        target = target / DEFAULT_CSV_NAME
    safe = df.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(_neutralise)
    safe.columns = [_neutralise(str(c)) for c in safe.columns]
    # RFC 4180's CRLF: Python's csv quotes a field holding any line-terminator character, so a
    # lone CR inside a cell is quoted too instead of splitting the row in a spreadsheet
    safe.to_csv(target, index=False, lineterminator="\r\n")
    return target


@dataclass(frozen=True)
class WandbExport:
    """``skipped`` names the runs left out because their metric is missing (crashed, failed)."""

    trials: list[TrialSummary]
    skipped: list[str]
    metric_column: str


def _python(value: Any) -> Any:
    """numpy/pandas scalars -> plain Python; missing -> None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _metric_column(columns: Sequence[str], metric: str) -> str:
    for candidate in (metric, f"summary.{metric}", f"summary_metrics.{metric}"):
        if candidate in columns:
            return candidate
    raise ValueError(f"metric {metric!r} is not a column of the export; columns: {list(columns)}")


def _config_columns(columns: Sequence[str], metric_column: str) -> dict[str, str]:
    """column -> hyperparameter name: ``config.x`` columns when there are any, else every plain
    column that is not W&B metadata, a summary or an internal ``_`` field."""
    prefixed = {c: c[len("config.") :] for c in columns if c.startswith("config.")}
    if prefixed:
        return prefixed
    return {
        c: c
        for c in columns
        if c != metric_column
        and c.lower() not in _WANDB_META
        and not c.startswith(("_", "summary.", "summary_metrics."))
    }


def load_wandb_export(
    path: str | Path, metric: str, *, parameters: Sequence[str] | None = None
) -> WandbExport:
    """Read W&B's runs-table CSV export. ``parameters`` restricts the config columns (the
    heuristic of :func:`_config_columns` cannot tell a logged summary from a hyperparameter)."""
    frame = pd.read_csv(path)
    columns = [str(c) for c in frame.columns]
    metric_column = _metric_column(columns, metric)
    config_columns = _config_columns(columns, metric_column)
    if parameters is not None:
        missing = sorted(set(parameters) - set(config_columns.values()))
        if missing:
            raise ValueError(f"parameters {missing} are not columns; have {list(config_columns)}")
        config_columns = {c: n for c, n in config_columns.items() if n in parameters}
    trials, skipped = [], []
    for i, row in enumerate(frame.to_dict("records")):
        name = str(_python(row.get("Name")) or f"row-{i + 1}")
        value = _python(row[metric_column])
        if value is None or not math.isfinite(float(value)):
            skipped.append(name)
            continue
        state = str(_python(row.get("State")) or "finished").lower()
        config = {n: _python(row[c]) for c, n in config_columns.items()}
        run_id = _python(row.get("ID")) or name
        epochs = _python(row.get("epoch"))
        trials.append(
            TrialSummary(
                id=run_id,
                config={k: v for k, v in config.items() if v is not None},
                value=float(value),
                name=name,
                variant=str(_python(row.get("Sweep")) or "main"),
                status=_WANDB_STATES.get(state, "failed"),
                epochs=int(epochs) if isinstance(epochs, (int, float)) else 0,
            )
        )
    return WandbExport(trials, skipped, metric_column)


def read_wandb_export(path: str | Path, metric: str) -> list[TrialSummary]:
    """The runs of :func:`load_wandb_export` with a metric; logs how many were left out."""
    export = load_wandb_export(path, metric)
    if export.skipped:
        log.warning("%d runs without %r left out (crashed or failed)", len(export.skipped), metric)
    return export.trials


def _infer_param(values: list[Any]) -> Param:
    if any(isinstance(v, (str, bool)) for v in values):
        return Categorical(values=tuple(sorted(set(values), key=str)))
    low, high = float(min(values)), float(max(values))
    if low == high:
        return Constant(value=values[0])
    integer = all(float(v).is_integer() for v in values)
    log_scale = low > 0 and high / low > 100  # spans more than two decades
    return Numeric(low=low, high=high, log=log_scale, integer=integer)


def infer_space(trials: Sequence[TrialSummary]) -> Space:
    """A space from observed configs: numeric bounds from min/max (log scale when positive and
    spanning more than two decades), categorical for strings and bools, constant for one value."""
    names = sorted({k for t in trials for k in t.config})
    space: Space = {}
    for name in names:
        values = [v for t in trials if (v := t.config.get(name)) is not None]
        if values:
            space[name] = _infer_param(values)
    return space


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def frame_to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (floats to 4 significant digits, NaN as ``-``)."""
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    lines = [header, "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
