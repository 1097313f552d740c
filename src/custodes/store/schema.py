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
    UniqueConstraint,
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
    # the service's workflow (migration 0003_service); null for batches run by `custodes verify`
    Column("public_id", String(36)),
    Column("submitted_by", String(200)),
    Column("submitted_key", String(32)),
    Column("released_by", String(200)),
    Column("released_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_until", DateTime(timezone=True)),
    Column("error", Text),
    Column("files_dir", Text),
    Index("uq_batches_agency_batch", "agency", "batch_id", unique=True),
    UniqueConstraint("public_id", name="uq_batches_public_id"),
)
"""One row per batch received. (agency, batch_id) is unique: a resubmission is rejected.

``status`` is ``decided`` for a batch run by ``custodes verify``. A batch received by the
service moves received -> processing -> processed -> released, or to failed or held.
"""

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

# -- the service (migration 0003_service) ------------------------------------------------

agencies = Table(
    "agencies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Requesting agencies registered with the service; their keys submit batches."""

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(30), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""The custodian's people: disclosure_officer, auditor, policy_admin or oversight (one role each)."""

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("secret_hash", Text, nullable=False),
    Column("agency", String(200), ForeignKey("agencies.name")),
    Column("staff", String(200), ForeignKey("staff.name")),
    Column("holder", String(200)),
    Column("role", String(30), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)
"""API keys: the key id (the public prefix) finds the row, and only an argon2 hash of the key is kept.

Exactly one of ``agency`` (an agency key, role ``submitter``) and ``staff`` (the person's role) is set.
"""

standing_bases = Table(
    "standing_bases",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("agency", String(200), ForeignKey("agencies.name"), nullable=False),
    Column("legal_basis", String(100), nullable=False),
    Column("statutory_authority", Text, nullable=False),
    Column("taxable_periods", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("signer_name", String(200), nullable=False),
    Column("signer_title", String(200), nullable=False),
    Column("disclosure_profile", String(30), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(200), ForeignKey("staff.name"), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)
"""Standing bases for online verification: the legal elements of a manifest, registered once.

``taxable_periods`` is a JSON list of years.
"""

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("agency", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response_json", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""``Idempotency-Key`` of online verifications: a replay returns the stored response, never a new act.

``status_code`` is null while the first request is still being answered.
"""

ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("key_id", String(32), ForeignKey("api_keys.key_id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_ui_sessions_expires_at", "expires_at"),
)
"""Reviewer UI sessions (migration 0007), shared by every server process: the digest of the
cookie's token, the staff key it was opened with, and its CSRF token."""
