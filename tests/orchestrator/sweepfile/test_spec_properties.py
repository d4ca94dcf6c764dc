"""Property-based tests: random valid specs round-trip; random mutations only raise SpecErrors."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.sweepfile import (
    SpecErrors,
    parse_spec,
    plan_dict,
    render_plan,
    spec_from_dict,
    spec_to_dict,
)

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = (ROOT / "search_spaces" / "quickstart.yaml").read_text()
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
positive = st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False)
# control characters are refused in every string (orchestrator.sweepfile.loader): not "valid"
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=5)
scalars = st.one_of(st.integers(-100, 100), finite, printable, st.booleans())


@st.composite
def bounds(draw, values=finite, ints: bool = False) -> tuple:
    gen = st.integers(-100, 100) if ints else values
    lo, hi = sorted((draw(gen), draw(gen)))
    if hi - lo < 1e-3 * max(1.0, abs(lo)):  # keep the range representable after exp()
        hi = lo + max(1, abs(lo))
    return lo, hi


@st.composite
def parameter(draw) -> dict:
    kind = draw(
        st.sampled_from(
            ["value", "values", "int", "uniform", "log_values", "log", "normal", "beta", "probs"]
        )
    )
    if kind == "value":
        return {"value": draw(scalars)}
    if kind == "values":
        return {"values": draw(st.lists(scalars, min_size=1, max_size=4))}
    if kind == "probs":
        return {"values": ["a", "b"], "probabilities": [0.25, 0.75]}
    if kind == "int":
        lo, hi = draw(bounds(ints=True))
        return {"distribution": "int_uniform", "min": lo, "max": hi}
    if kind == "uniform":
        lo, hi = draw(bounds())
        return {
            "distribution": draw(st.sampled_from(["uniform", "q_uniform"])),
            "min": lo,
            "max": hi,
        }
    if kind == "log_values":
        lo, hi = draw(bounds(positive))
        return {
            "distribution": draw(st.sampled_from(["log_uniform_values", "inv_log_uniform_values"])),
            "min": lo,
            "max": hi,
        }
    if kind == "log":
        lo, hi = draw(bounds(st.floats(-20, 20)))
        return {
            "distribution": draw(
                st.sampled_from(["log_uniform", "q_log_uniform", "inv_log_uniform"])
            ),
            "min": lo,
            "max": hi,
        }
    if kind == "normal":
        return {
            "distribution": draw(st.sampled_from(["normal", "log_normal"])),
            "mu": draw(st.floats(-5, 5)),
            "sigma": draw(st.floats(0.1, 3)),
        }
    return {"distribution": "beta", "a": draw(st.floats(0.5, 5)), "b": draw(st.floats(0.5, 5))}


early_terminates = st.one_of(
    st.none(),
    st.builds(
        lambda m, e: {"type": "hyperband", "min_iter": m, "eta": e},
        st.integers(1, 5),
        st.sampled_from([2, 3, 4]),
    ),
    st.builds(
        lambda g, n: {"type": "median", "grace": g, "min_samples": n},
        st.integers(1, 5),
        st.integers(1, 5),
    ),
)


@st.composite
def sweep(draw) -> dict:
    names = draw(
        st.lists(
            # names every sampled model accepts (an unknown one is an error)
            st.sampled_from(["lr", "weight_decay", "grad_clip", "optimizer", "batch_size"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    doc: dict = {
        "model": {
            "name": draw(st.sampled_from(["dprnn", "convtasnet", "synthetic"])),
            "preset": "tiny",
        }
    }
    doc["parameters"] = {n: draw(parameter()) for n in names}
    doc["epochs"] = draw(st.integers(1, 30))
    doc["early_terminate"] = draw(early_terminates)
    n_stages = draw(st.integers(0, 3))
    if n_stages:
        subsets = sorted(
            draw(
                st.lists(st.integers(1, 10_000), min_size=n_stages, max_size=n_stages, unique=True)
            )
        )
        doc["stages"] = [
            {"name": f"s{i}", "subset": s, "trials": draw(st.integers(5, 30))}
            for i, s in enumerate(subsets)
        ]
        if draw(st.booleans()):
            doc["stages"][-1]["variants"] = [
                {"name": "hb"},
                {"name": "med", "early_terminate": {"type": "median"}},
            ]
    doc["selection"] = {"k": draw(st.integers(1, 5)), "diversity": draw(st.floats(0, 2))}
    doc["validation"] = {
        "seeds": draw(st.lists(st.integers(0, 999), min_size=1, max_size=3, unique=True))
    }
    doc["wandb"] = draw(
        st.sampled_from([False, {"mode": "offline"}, {"mode": "online", "project": "p"}])
    )
    return doc


@SETTINGS
@given(sweep())
def test_random_valid_specs_round_trip(doc: dict) -> None:
    spec = parse_spec(yaml.safe_dump(doc, sort_keys=False), "r.yaml").spec
    stored = json.loads(json.dumps(spec_to_dict(spec), allow_nan=False))
    assert spec_from_dict(stored) == spec
    assert set(spec.parameters) == set(doc["parameters"])


junk = st.one_of(
    scalars,
    st.sampled_from(
        [
            "[",
            "]",
            "{",
            "}",
            "- x",
            "&a",
            "*a",
            "!!set",
            "!!python/tuple [1]",
            ":",
            "'",
            '"',
            "~",
            ".nan",
            "-.inf",
            "1e999",
            "0x1F",
            "2020-01-01",
            "|",
            ">",
            "%YAML 1.1",
        ]
    ),
    st.text(max_size=12),
)


def _mutate(lines: list[str], ops: list[tuple[int, int, str]]) -> str:
    for op, index, text in ops:
        i = index % (len(lines) or 1)
        if op == 0 and lines:
            del lines[i]
        elif op == 1 and lines and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {text}"
        else:
            lines.insert(i, text)
    return "\n".join(lines) + "\n"


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 10_000), junk.map(str)), min_size=1, max_size=6
    )
)
def test_mutations_only_raise_located_spec_errors(ops: list[tuple[int, int, str]]) -> None:
    text = _mutate(QUICKSTART.splitlines(), ops)
    try:
        parsed = parse_spec(text, "m.yaml")
    except SpecErrors as exc:
        assert exc.errors
        assert all(e.line >= 1 and e.column >= 1 and e.file == "m.yaml" for e in exc.errors)
    else:  # a mutation that is still valid must still plan
        assert render_plan(parsed).startswith("sweep ")
        json.dumps(plan_dict(parsed.spec), allow_nan=False)
