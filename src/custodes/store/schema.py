"""Tables of the operational store. Alembic migrations create them; this module names them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(200), nullable=False),
    Column("agency", String(200), nullable=False),
    Column("legal_basis", String(100), nullable=False),
    Column("status", String(30), nullable=False),
    Column("manifest_json", Text, nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("requests_sha256", String(64), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("batch_reason", String(60)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Index("uq_batches_agency_batch", "agency", "batch_id", unique=True),
)
"""One row per batch received. (agency, batch_id) is unique: a resubmission is rejected."""

requests = Table(
    "requests",
    metadata,
    Column("batch_pk", Integer, ForeignKey("batches.id"), primary_key=True),
    Column("row_number", Integer, primary_key=True),
    Column("request_id", String(200), nullable=False),
    Column("first_name", Text),
    Column("middle_name", Text),
    Column("last_name", Text),
    Column("dob", Text),
    Column("street", Text),
    Column("city", Text),
    Column("state", Text),
    Column("zip", Text),
    Column("tin", Text),
    Column("case_reference", Text),
)
"""The request rows exactly as received, so that a decision can be replayed later."""

decisions = Table(
    "decisions",
    metadata,
    Column("batch_pk", Integer, ForeignKey("batches.id"), primary_key=True),
    Column("request_id", String(200), primary_key=True),
    Column("outcome", String(20), nullable=False),
    Column("reason", String(60), nullable=False),
    Column("tin", String(9)),
    Column("match_probability", Float),
    Column("address_status", String(20)),
    Column("response_sha256", String(64), nullable=False),
)
"""The custodian's decision for each request. Never leaves the custodian."""

master_loads = Table(
    "master_loads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("taxpayers", BigInteger, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("index_digest", LargeBinary),
)
"""Every master file loaded into the matching index, for the record."""
