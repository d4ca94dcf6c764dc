"""A database as Rungs 0.1.0 left it: its tables (a frozen copy of its DDL, in fixtures/) and
a sweep with a stage, a trial and a result. For the migration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

FIXTURES = Path(__file__).with_name("fixtures")
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SPEC = '{"metric": {"name": "si_sdr", "goal": "maximize"}}'


def create_release_0_1_0(engine: Engine) -> None:
    """The tables exactly as Rungs 0.1.0 created them (a frozen copy of its DDL)."""
    lines = (FIXTURES / f"schema_0_1_0_{engine.dialect.name}.sql").read_text().splitlines()
    ddl = "\n".join(line for line in lines if not line.startswith("--"))
    statements = [s for s in ddl.split(";\n") if s.strip()]
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def insert_a_sweep(engine: Engine) -> None:
    """Sweep 1 with a stage, a finished trial and its result, as 0.1.0 wrote them (ids from
    the tables' own sequences)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sweeps (name, state, spec, yaml_text, source_path, error, "
                "worker, created_at, updated_at) VALUES ('old sweep', 'completed', :spec, "
                "'name: old sweep\n', 'old.yaml', NULL, NULL, :at, :at)"
            ),
            {"spec": SPEC, "at": CREATED},
        )
        conn.execute(
            text(
                "INSERT INTO stages (sweep_id, name, position, kind, state, plan) "
                "VALUES (1, 'stage1', 0, 'search', 'completed', '{\"trials\": 1}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO trials (sweep_id, stage_id, variant, key, name, config, seed, "
                "status, best_value, epochs, compute_seconds) VALUES (1, 1, 'main', 'k1', "
                "'t1', '{\"lr\": 0.001}', 42, 'completed', 3.5, 2, 1.5)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO results (sweep_id, trial_id, step, metrics, created_at) "
                "VALUES (1, 1, 2, '{\"si_sdr\": 3.5}', :at)"
            ),
            {"at": CREATED},
        )
