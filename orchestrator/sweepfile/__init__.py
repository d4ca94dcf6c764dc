"""Sweep YAML: parsing with located errors, the resolved plan, serialisation and the template.

Public API::

    load_spec(path) -> ParsedSweep           # raises SpecErrors with every located error
    parse_spec(text, filename) -> ParsedSweep
    spec_to_dict(spec) -> dict; spec_from_dict(d) -> SweepSpec   # exact round trip, JSON-safe
    plan_dict(spec) -> dict; render_plan(parsed) -> str          # the resolved plan
    default_template(model) -> str                               # what `rungs init` writes

The format is documented in :mod:`orchestrator.sweepfile.parse`.
"""

from orchestrator.sweepfile.errors import SpecError, SpecErrors, SpecWarning
from orchestrator.sweepfile.parse import ParsedSweep, load_spec, parse_spec
from orchestrator.sweepfile.plan import plan_dict
from orchestrator.sweepfile.render import render_plan
from orchestrator.sweepfile.serialize import spec_from_dict, spec_to_dict
from orchestrator.sweepfile.template import default_template

__all__ = [
    "ParsedSweep",
    "SpecError",
    "SpecErrors",
    "SpecWarning",
    "default_template",
    "load_spec",
    "parse_spec",
    "plan_dict",
    "render_plan",
    "spec_from_dict",
    "spec_to_dict",
]
