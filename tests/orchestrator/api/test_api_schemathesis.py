"""Schemathesis against the API's own OpenAPI schema: no 5xx, and every answer as documented.

In-process (the ASGI app, no server), on SQLite, with a token required for reads and writes and
a filled sweep in the database. Every operation gets schema-valid requests (which must not be
refused) and schema-invalid ones (which must be), each checked by Schemathesis's checks: no
server error, documented status codes, content types and headers, and response bodies that
match their schemas. The examples are derandomized, so a run is repeatable, and few enough per
operation that the whole test takes a minute or so on a busy 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.failures import FailureGroup

from orchestrator.api import create_app
from orchestrator.api.settings import Settings
from orchestrator.storage import SQLStorage
from tests.orchestrator.api.conftest import fill_sweep

TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES_PER_MODE = 60
# Any string is a schema-valid sweep upload, but only a valid sweep file is accepted: a 422 with
# located errors is the right answer to the rest, not a refusal of valid data.
YAML_BODY_OPERATIONS = {"POST /api/sweeps"}


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[schemathesis.BaseSchema]:
    url = f"sqlite:///{tmp_path / 'rungs.db'}"
    storage = SQLStorage(url)
    fill_sweep(storage)
    settings_ = Settings(database_url=url, api_token=TOKEN, reads_require_token=True)
    yield schemathesis.openapi.from_asgi("/api/openapi.json", create_app(settings_, storage))
    storage.close()


def _has_inputs(operation: schemathesis.APIOperation) -> bool:
    """Whether anything of the request can be made invalid (else negative mode has no case)."""
    return bool(len(operation.path_parameters) or len(operation.query) or len(operation.body))


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode) -> dict[str, str]:
    """Failures found, one per distinct check message (the first example of each)."""
    found: dict[str, str] = {}
    excluded = [positive_data_acceptance] if operation.label in YAML_BODY_OPERATIONS else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(headers=AUTH, excluded_checks=excluded)
        except (FailureGroup, AssertionError) as failure:  # the checks' failures, any example
            found.setdefault(f"{operation.label} [{mode.value}] {_titles(failure)}", str(failure))

    run()
    return found


def _titles(failure: BaseException) -> str:
    """What failed, without the example: ``ST103 Undocumented status code | ...``."""
    text = str(failure)
    return " | ".join(line[2:] for line in text.splitlines() if line.startswith("- ")) or text


def test_generated_requests_get_no_server_error_and_documented_answers(
    schema: schemathesis.BaseSchema,
) -> None:
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"GET /api/sweeps", "POST /api/sweeps", "GET /api/sweeps/{sweep_id}/top.csv"} <= {
        op.label for op in operations
    }
    for operation in operations:
        modes = [GenerationMode.POSITIVE]
        if _has_inputs(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            failures.update(_fuzz(operation, mode))
    assert not failures, "\n\n".join(failures.values())
