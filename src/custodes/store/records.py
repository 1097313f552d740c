"""Writing and reading batches, their request rows and decisions in the operational store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import polars as pl
from sqlalchemy import Connection, func, insert, select, update

from custodes.errors import StoreError
from custodes.store.bulk import bulk_insert
from custodes.store.schema import agencies, batches, decisions, master_loads, requests

REQUEST_FIELDS = (
    "request_id", "first_name", "middle_name", "last_name", "dob", "street", "city", "state",
    "zip", "tin", "case_reference",
)  # fmt: skip


def batch_exists(conn: Connection, agency: str, batch_id: str) -> bool:
    """Whether this agency already submitted a batch with this id."""
    found = conn.execute(
        select(batches.c.id).where(batches.c.agency == agency, batches.c.batch_id == batch_id)
    ).first()
    return found is not None


def record_batch(
    conn: Connection,
    *,
    batch_id: str,
    agency: str,
    legal_basis: str,
    manifest_json: str,
    manifest_sha256: str,
    requests_sha256: str,
    request_rows: pl.DataFrame,
    decision_rows: pl.DataFrame,
    batch_reason: str | None,
    received_at: datetime,
    completed_at: datetime,
    status: str = "decided",
    workflow: Mapping[str, object] | None = None,
) -> int:
    """Insert one batch with all its request rows and decisions; returns its primary key.

    Runs inside the caller's transaction, so the batch is stored whole or not at all.
    ``workflow`` sets the service's columns of the batch row (``submitted_by``, ...).
    """
    pk = conn.execute(
        insert(batches).values(
            batch_id=batch_id,
            agency=agency,
            legal_basis=legal_basis,
            status=status,
            manifest_json=manifest_json,
            manifest_sha256=manifest_sha256,
            requests_sha256=requests_sha256,
            record_count=request_rows.height,
            batch_reason=batch_reason,
            received_at=received_at,
            completed_at=completed_at,
            **(workflow or {}),
        )
    ).inserted_primary_key
    assert pk is not None
    batch_pk = int(pk[0])
    _insert_rows(conn, batch_pk, request_rows, decision_rows)
    return batch_pk


def complete_batch(
    conn: Connection,
    batch_pk: int,
    *,
    request_rows: pl.DataFrame,
    decision_rows: pl.DataFrame,
    batch_reason: str | None,
    completed_at: datetime,
    status: str = "processed",
) -> None:
    """Store the rows and decisions of a batch the service received and claimed (status ``processing``).

    Runs inside the caller's transaction. Raises ``StoreError`` when the batch is no longer
    being processed (another worker took it over), so that the caller's transaction rolls back.
    """
    done = conn.execute(
        update(batches)
        .where(batches.c.id == batch_pk, batches.c.status == "processing")
        .values(
            status=status,
            record_count=request_rows.height,
            batch_reason=batch_reason,
            completed_at=completed_at,
            lease_until=None,
        )
    )
    if done.rowcount != 1:
        raise StoreError(f"batch {batch_pk} is no longer being processed by this worker; nothing was stored")
    _insert_rows(conn, batch_pk, request_rows, decision_rows)


def _insert_rows(
    conn: Connection, batch_pk: int, request_rows: pl.DataFrame, decision_rows: pl.DataFrame
) -> None:
    rows = request_rows.select(
        pl.lit(batch_pk).alias("batch_pk"), pl.col("row_number").cast(pl.Int64), *REQUEST_FIELDS
    )
    bulk_insert(conn, requests, rows)
    dec = decision_rows.select(
        pl.lit(batch_pk).alias("batch_pk"),
        "request_id",
        "outcome",
        "reason",
        "tin",
        "match_probability",
        "address_status",
        "response_sha256",
    )
    bulk_insert(conn, decisions, dec)


def record_master_load(
    conn: Connection, *, source: str, source_sha256: str, rows: int, taxpayers: int, at: datetime
) -> None:
    """Note a master file loaded into the matching index."""
    conn.execute(
        insert(master_loads).values(
            source=source, source_sha256=source_sha256, rows=rows, taxpayers=taxpayers, loaded_at=at
        )
    )


def decision_counts(conn: Connection, batch_pk: int) -> dict[tuple[str, str], int]:
    """(outcome, reason) -> count for one stored batch."""
    rows = conn.execute(
        select(decisions.c.outcome, decisions.c.reason, func.count())
        .where(decisions.c.batch_pk == batch_pk)
        .group_by(decisions.c.outcome, decisions.c.reason)
    ).all()
    return {(str(o), str(r)): int(n) for o, r, n in rows}


def registered_agencies(conn: Connection) -> tuple[str, ...]:
    """Agencies registered in the store (``custodes agency add``), by name."""
    return tuple(str(n) for n in conn.execute(select(agencies.c.name).order_by(agencies.c.name)).scalars())
