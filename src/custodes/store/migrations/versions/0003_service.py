"""The service: agencies, staff, API keys, standing bases, idempotency keys, batch workflow.

Revision ID: 0003_service
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_service"
down_revision = "0002"
branch_labels = None
depends_on = None


def _workflow() -> tuple[sa.Column[object], ...]:
    """The batch workflow columns (fresh objects each call: a Column belongs to one table)."""
    return (
        sa.Column("public_id", sa.String(36)),
        sa.Column("submitted_by", sa.String(200)),
        sa.Column("submitted_key", sa.String(32)),
        sa.Column("released_by", sa.String(200)),
        sa.Column("released_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text),
        sa.Column("files_dir", sa.Text),
    )


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("agency", sa.String(200), sa.ForeignKey("agencies.name")),
        sa.Column("staff", sa.String(200), sa.ForeignKey("staff.name")),
        sa.Column("holder", sa.String(200)),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "standing_bases",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("agency", sa.String(200), sa.ForeignKey("agencies.name"), nullable=False),
        sa.Column("legal_basis", sa.String(100), nullable=False),
        sa.Column("statutory_authority", sa.Text, nullable=False),
        sa.Column("taxable_periods", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("signer_title", sa.String(200), nullable=False),
        sa.Column("disclosure_profile", sa.String(30), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(200), sa.ForeignKey("staff.name"), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("agency", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response_json", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("batches") as batch:
        for column in _workflow():
            batch.add_column(column)
        batch.create_unique_constraint("uq_batches_public_id", ["public_id"])


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_constraint("uq_batches_public_id", type_="unique")
        for column in reversed(_workflow()):
            batch.drop_column(column.name)
    op.drop_table("idempotency_keys")
    op.drop_table("standing_bases")
    op.drop_table("api_keys")
    op.drop_table("staff")
    op.drop_table("agencies")
