"""Batches, their request rows, decisions and master loads.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(200), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("legal_basis", sa.String(100), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("requests_sha256", sa.String(64), nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False),
        sa.Column("batch_reason", sa.String(60)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("uq_batches_agency_batch", "batches", ["agency", "batch_id"], unique=True)
    op.create_table(
        "requests",
        sa.Column("batch_pk", sa.Integer, sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("row_number", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.String(200), nullable=False),
        *(
            sa.Column(name, sa.Text)
            for name in (
                "first_name",
                "middle_name",
                "last_name",
                "dob",
                "street",
                "city",
                "state",
                "zip",
                "tin",
                "case_reference",
            )
        ),
    )
    op.create_table(
        "decisions",
        sa.Column("batch_pk", sa.Integer, sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("request_id", sa.String(200), primary_key=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        sa.Column("tin", sa.String(9)),
        sa.Column("match_probability", sa.Float),
        sa.Column("address_status", sa.String(20)),
        sa.Column("response_sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "master_loads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("taxpayers", sa.BigInteger, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("index_digest", sa.LargeBinary),
    )


def downgrade() -> None:
    op.drop_table("master_loads")
    op.drop_table("decisions")
    op.drop_table("requests")
    op.drop_index("uq_batches_agency_batch", table_name="batches")
    op.drop_table("batches")
