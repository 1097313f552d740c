"""The accounting log: entries, tiles, checkpoints, cosignatures and the head row.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leaf_index = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "ledger_entries",
        sa.Column("idx", leaf_index, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("request_key", sa.BigInteger),
        sa.Column("taxpayer_key", sa.BigInteger),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    # Decisions (kind 0) are found through their batch's range, not this index: a
    # million random inserts per batch into it would halve the append rate.
    op.create_index(
        "ix_ledger_entries_request_key",
        "ledger_entries",
        ["request_key"],
        sqlite_where=sa.text("kind <> 0"),
        postgresql_where=sa.text("kind <> 0"),
    )
    op.create_index(
        "ix_ledger_entries_taxpayer_key",
        "ledger_entries",
        ["taxpayer_key"],
        sqlite_where=sa.text("taxpayer_key IS NOT NULL"),
        postgresql_where=sa.text("taxpayer_key IS NOT NULL"),
    )
    op.create_table(
        "ledger_tiles",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_cosignatures",
        sa.Column("size", sa.BigInteger, sa.ForeignKey("ledger_checkpoints.size"), primary_key=True),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0}])


def downgrade() -> None:
    op.drop_table("ledger_head")
    op.drop_table("ledger_cosignatures")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_tiles")
    op.drop_index("ix_ledger_entries_taxpayer_key", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_request_key", table_name="ledger_entries")
    op.drop_table("ledger_entries")
