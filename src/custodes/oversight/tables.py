"""The oversight tables in the operational store; Alembic migration 0004 creates them.

Agencies, bases and batches are named by the strings the manifest carries (``agency``,
``legal_basis``, ``batch_id``) and, for online requests, a standing-basis id, so these
tables hold no foreign key into tables other migrations own.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from custodes.store.schema import decisions, metadata

suspensions = Table(
    "oversight_suspensions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency", String(200)),
    Column("legal_basis", String(100)),
    Column("standing_basis", String(200)),
    Column("reason", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("suspended_by", String(200), nullable=False),
    Column("suspended_at", DateTime(timezone=True), nullable=False),
    Column("ledger_index", BigInteger),
    Column("lifted_at", DateTime(timezone=True)),
    Column("lifted_by", String(200)),
    Column("lift_reason", Text),
    Column("lift_reference", Text),
    Column("lift_ledger_index", BigInteger),
)
"""Every suspension ever made. A null scope column matches anything: agency alone suspends
the whole agency, legal_basis alone suspends a basis for every agency."""

holds = Table(
    "oversight_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("suspension_id", Integer, ForeignKey("oversight_suspensions.id"), nullable=False),
    Column("agency", String(200), nullable=False),
    Column("batch_id", String(200), nullable=False),
    Column("previous_status", String(30), nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("lifted_at", DateTime(timezone=True)),
    Index("ix_oversight_holds_batch", "agency", "batch_id"),
)
"""Batches held by a suspension before release, and the status each had."""

policies = Table(
    "oversight_policies",
    metadata,
    Column("version", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("policy_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Every policy a batch was decided under or a remediation replayed with, by version."""

batch_policies = Table(
    "oversight_batch_policies",
    metadata,
    Column("agency", String(200), primary_key=True),
    Column("batch_id", String(200), primary_key=True),
    Column("policy_version", String(40), ForeignKey("oversight_policies.version"), nullable=False),
    Column("master_sha256", String(64)),
)
"""Which policy and which master file decided each batch."""

budget_queries = Table(
    "oversight_budget_queries",
    metadata,
    Column("agency", String(200), primary_key=True),
    Column("batch_id", String(200), primary_key=True),
    Column("row_number", Integer, primary_key=True, autoincrement=False),
    Column("request_id", String(200), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("subject_keys", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("budget", String(20)),
    Index("ix_oversight_budget_agency_at", "agency", "requested_at"),
)
"""Every query that reached the matcher, or was refused by a budget, with its subject keys."""

budget_keys = Table(
    "oversight_budget_keys",
    metadata,
    Column("agency", String(200), primary_key=True),
    Column("subject_key", BigInteger, primary_key=True, autoincrement=False),
    Column("batch_id", String(200), primary_key=True),
    Column("row_number", Integer, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)
"""Each subject key of each stored query (migration 0005): the queries sharing a key, by index.

On SQLite the table is its primary key's B-tree alone, ``WITHOUT ROWID`` (migration 0006)."""

remediations = Table(
    "oversight_remediations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", Text, nullable=False),
    Column("policy_version", String(40), ForeignKey("oversight_policies.version"), nullable=False),
    Column("run_at", DateTime(timezone=True), nullable=False),
    Column("replayed", BigInteger, nullable=False),
    Column("disclosures", BigInteger, nullable=False),
    Column("affected", BigInteger, nullable=False),
    Column("exposure_usd", BigInteger, nullable=False),
    Column("findings_sha256", String(64), nullable=False),
    Column("ledger_index", BigInteger),
)
"""Every remediation run: what it replayed under which policy, and what it found."""

findings = Table(
    "oversight_findings",
    metadata,
    Column("remediation_id", Integer, ForeignKey("oversight_remediations.id"), primary_key=True),
    Column("agency", String(200), primary_key=True),
    Column("batch_id", String(200), primary_key=True),
    Column("request_id", String(200), primary_key=True),
    Column("tin", String(9), nullable=False),
    Column("original_reason", String(60), nullable=False),
    Column("replay_outcome", String(20), nullable=False),
    Column("replay_reason", String(60), nullable=False),
    Index("ix_oversight_findings_tin", "tin"),
)
"""Each disclosure a remediation found would not be made under the corrected policy."""

decision_counts_index = Index(
    "ix_decisions_batch_outcome_reason", decisions.c.batch_pk, decisions.c.outcome, decisions.c.reason
)
"""Lets the aggregate report count 10M decisions by outcome and reason from the index alone."""
