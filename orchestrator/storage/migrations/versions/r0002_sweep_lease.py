"""A worker's lease on a sweep: ``sweeps.lease_expires_at`` (see orchestrator.storage.leases).

Existing sweeps get NULL: no lease recorded.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as batch_op:
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sweeps") as batch_op:
        batch_op.drop_column("lease_expires_at")
