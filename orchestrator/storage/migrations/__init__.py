"""Alembic migrations of Rungs' database schema (shipped in the wheel).

:mod:`orchestrator.storage.migrate` runs them when a storage opens; ``rungs db upgrade`` runs
them on demand. For a schema change: edit :mod:`orchestrator.storage.models`, then write the
next revision in ``versions/`` (``alembic -c orchestrator/storage/migrations/alembic.ini
revision --autogenerate -m "..."`` drafts one against ``$RUNGS_DATABASE_URL``); the test
``tests/orchestrator/storage/test_migrations.py`` fails until head equals the models.
"""
