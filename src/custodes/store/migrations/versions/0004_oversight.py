"""Oversight: suspensions and holds, policy versions, query budgets, remediations.

Revision ID: 0004
Revises: 0003_service
Create Date: 2026-11-25

Self-contained: agencies, bases and batches are named by their manifest strings, so
nothing here refers to tables of other migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_service"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oversight_suspensions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agency", sa.String(200)),
        sa.Column("legal_basis", sa.String(100)),
        sa.Column("standing_basis", sa.String(200)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reference", sa.Text, nullable=False),
        sa.Column("suspended_by", sa.String(200), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger),
        sa.Column("lifted_at", sa.DateTime(timezone=True)),
        sa.Column("lifted_by", sa.String(200)),
        sa.Column("lift_reason", sa.Text),
        sa.Column("lift_reference", sa.Text),
        sa.Column("lift_ledger_index", sa.BigInteger),
    )
    op.create_table(
        "oversight_holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("suspension_id", sa.Integer, sa.ForeignKey("oversight_suspensions.id"), nullable=False),
        sa.Column("agency", sa.String(200), nullable=False),
        sa.Column("batch_id", sa.String(200), nullable=False),
        sa.Column("previous_status", sa.String(30), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_oversight_holds_batch", "oversight_holds", ["agency", "batch_id"])
    op.create_table(
        "oversight_policies",
        sa.Column("version", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("policy_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "oversight_batch_policies",
        sa.Column("agency", sa.String(200), primary_key=True),
        sa.Column("batch_id", sa.String(200), primary_key=True),
        sa.Column(
            "policy_version", sa.String(40), sa.ForeignKey("oversight_policies.version"), nullable=False
        ),
        sa.Column("master_sha256", sa.String(64)),
    )
    op.create_table(
        "oversight_budget_queries",
        sa.Column("agency", sa.String(200), primary_key=True),
        sa.Column("batch_id", sa.String(200), primary_key=True),
        sa.Column("row_number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_keys", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("budget", sa.String(20)),
    )
    op.create_index("ix_oversight_budget_agency_at", "oversight_budget_queries", ["agency", "requested_at"])
    op.create_table(
        "oversight_remediations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column(
            "policy_version", sa.String(40), sa.ForeignKey("oversight_policies.version"), nullable=False
        ),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed", sa.BigInteger, nullable=False),
        sa.Column("disclosures", sa.BigInteger, nullable=False),
        sa.Column("affected", sa.BigInteger, nullable=False),
        sa.Column("exposure_usd", sa.BigInteger, nullable=False),
        sa.Column("findings_sha256", sa.String(64), nullable=False),
        sa.Column("ledger_index", sa.BigInteger),
    )
    op.create_table(
        "oversight_findings",
        sa.Column("remediation_id", sa.Integer, sa.ForeignKey("oversight_remediations.id"), primary_key=True),
        sa.Column("agency", sa.String(200), primary_key=True),
        sa.Column("batch_id", sa.String(200), primary_key=True),
        sa.Column("request_id", sa.String(200), primary_key=True),
        sa.Column("tin", sa.String(9), nullable=False),
        sa.Column("original_reason", sa.String(60), nullable=False),
        sa.Column("replay_outcome", sa.String(20), nullable=False),
        sa.Column("replay_reason", sa.String(60), nullable=False),
    )
    op.create_index("ix_oversight_findings_tin", "oversight_findings", ["tin"])
    # the aggregate report counts decisions per batch, outcome and reason from this index alone
    op.create_index("ix_decisions_batch_outcome_reason", "decisions", ["batch_pk", "outcome", "reason"])


def downgrade() -> None:
    op.drop_index("ix_decisions_batch_outcome_reason", table_name="decisions")
    op.drop_index("ix_oversight_findings_tin", table_name="oversight_findings")
    op.drop_table("oversight_findings")
    op.drop_table("oversight_remediations")
    op.drop_index("ix_oversight_budget_agency_at", table_name="oversight_budget_queries")
    op.drop_table("oversight_budget_queries")
    op.drop_table("oversight_batch_policies")
    op.drop_table("oversight_policies")
    op.drop_index("ix_oversight_holds_batch", table_name="oversight_holds")
    op.drop_table("oversight_holds")
    op.drop_table("oversight_suspensions")
