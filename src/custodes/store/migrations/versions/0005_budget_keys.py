"""Query budgets: an index from each subject key to the queries that hold it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

An online verification must find the earlier queries about its subject without reading
the agency's whole window of history (millions of rows at a few hundred requests a
second). The keys stored as text in ``oversight_budget_queries.subject_keys`` are
copied here, one row per key, so the queries sharing a key are one index lookup away.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHUNK = 10_000


def upgrade() -> None:
    op.create_table(
        "oversight_budget_keys",
        sa.Column("agency", sa.String(200), primary_key=True),
        sa.Column("subject_key", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("batch_id", sa.String(200), primary_key=True),
        sa.Column("row_number", sa.Integer, primary_key=True, autoincrement=False),
    )
    bind = op.get_bind()
    queries = sa.table(
        "oversight_budget_queries",
        sa.column("agency", sa.String),
        sa.column("batch_id", sa.String),
        sa.column("row_number", sa.Integer),
        sa.column("subject_keys", sa.Text),
    )
    keys = sa.table(
        "oversight_budget_keys",
        sa.column("agency", sa.String),
        sa.column("subject_key", sa.BigInteger),
        sa.column("batch_id", sa.String),
        sa.column("row_number", sa.Integer),
    )
    rows = bind.execute(
        sa.select(queries.c.agency, queries.c.batch_id, queries.c.row_number, queries.c.subject_keys)
    )
    pending: list[dict[str, object]] = []
    for agency, batch_id, row_number, text in rows:
        for key in {int(k) for k in text.split()}:
            pending.append(
                {"agency": agency, "subject_key": key, "batch_id": batch_id, "row_number": row_number}
            )
        if len(pending) >= _CHUNK:
            bind.execute(sa.insert(keys), pending)
            pending = []
    if pending:
        bind.execute(sa.insert(keys), pending)


def downgrade() -> None:
    op.drop_table("oversight_budget_keys")
