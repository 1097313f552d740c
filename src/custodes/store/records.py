"""Writing and reading batches, their request rows and decisions in the operational store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl
from sqlalchemy import Connection, func, insert, select, update

from custodes.errors import StoreError
from custodes.frames import column_rows
from custodes.store.bulk import JSON_MIN_ROWS, bulk_insert, insert_rows
from custodes.store.schema import agencies, batches, decisions, master_loads, requests

DECISION_FIELDS = (
    "request_id", "outcome", "reason", "tin", "match_probability", "address_status", "response_sha256",
)  # fmt: skip
"""The stored columns of a decision, after its batch key."""
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


@dataclass(frozen=True)
class NewBatch:
    """The batch row of a batch being stored (its request rows and decisions go alongside)."""

    batch_id: str
    agency: str
    legal_basis: str
    manifest_json: str
    manifest_sha256: str
    requests_sha256: str
    record_count: int
    batch_reason: str | None
    received_at: datetime
    completed_at: datetime
    status: str = "decided"
    workflow: Mapping[str, object] | None = None
    """The service's columns of the batch row (``submitted_by``, ...)."""

    def values(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "agency": self.agency,
            "legal_basis": self.legal_basis,
            "status": self.status,
            "manifest_json": self.manifest_json,
            "manifest_sha256": self.manifest_sha256,
            "requests_sha256": self.requests_sha256,
            "record_count": self.record_count,
            "batch_reason": self.batch_reason,
            "received_at": self.received_at,
            "completed_at": self.completed_at,
            **(self.workflow or {}),
        }


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
    head = NewBatch(
        batch_id=batch_id, agency=agency, legal_basis=legal_basis, manifest_json=manifest_json,
        manifest_sha256=manifest_sha256, requests_sha256=requests_sha256,
        record_count=request_rows.height, batch_reason=batch_reason, received_at=received_at,
        completed_at=completed_at, status=status, workflow=workflow,
    )  # fmt: skip
    owner = pl.lit(0, pl.Int64).alias("owner")
    (batch_pk,) = record_batches(
        conn, [head], request_rows.with_columns(owner), decision_rows.with_columns(owner)
    )
    return batch_pk


def record_batches(
    conn: Connection, heads: Sequence[NewBatch], request_rows: pl.DataFrame, decision_rows: pl.DataFrame
) -> list[int]:
    """Insert several batches at once, as ``record_batch`` would one after another; returns their keys.

    Both frames carry an ``owner`` column: the position in ``heads`` of the batch the row
    belongs to. One statement per table, whatever the number of batches: the service stores
    each online verification as its own batch, and the verifications that arrive together
    are stored together. Runs inside the caller's transaction.
    """
    if not heads:
        return []
    pks = _insert_heads(conn, heads)
    if request_rows.height < JSON_MIN_ROWS and decision_rows.height < JSON_MIN_ROWS:
        # an online group's few rows: Python values, no frame built only to be inserted
        insert_rows(
            conn,
            requests,
            ("batch_pk", "row_number", *REQUEST_FIELDS),
            [
                (pks[owner], None if n is None else int(n), *rest)
                for owner, n, *rest in column_rows(request_rows, ("owner", "row_number", *REQUEST_FIELDS))
            ],
        )
        insert_rows(
            conn,
            decisions,
            ("batch_pk", *DECISION_FIELDS),
            [(pks[owner], *rest) for owner, *rest in column_rows(decision_rows, ("owner", *DECISION_FIELDS))],
        )
        return pks
    keys = pl.Series("batch_pk", pks, dtype=pl.Int64)
    _insert_rows(
        conn,
        request_rows.drop("owner"),
        decision_rows.drop("owner"),
        pl.lit(keys.gather(request_rows["owner"])),
        pl.lit(keys.gather(decision_rows["owner"])),
    )
    return pks


def _insert_heads(conn: Connection, heads: Sequence[NewBatch]) -> list[int]:
    """Insert batch rows; returns their primary keys in the order of ``heads``."""
    values = [h.values() for h in heads]
    pks: dict[int, int] = {}
    # one executemany per set of columns given (the workflow columns differ between callers)
    shapes: dict[frozenset[str], list[int]] = {}
    for i, row in enumerate(values):
        shapes.setdefault(frozenset(row), []).append(i)
    for members in shapes.values():
        returned = conn.execute(
            insert(batches).returning(batches.c.id, sort_by_parameter_order=True),
            [values[i] for i in members],
        ).scalars()
        for i, pk in zip(members, returned, strict=True):
            pks[i] = int(pk)
    return [pks[i] for i in range(len(values))]


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
    key = pl.lit(batch_pk, pl.Int64)
    _insert_rows(conn, request_rows, decision_rows, key, key)


def _insert_rows(
    conn: Connection,
    request_rows: pl.DataFrame,
    decision_rows: pl.DataFrame,
    request_key: pl.Expr,
    decision_key: pl.Expr,
) -> None:
    """Insert request rows and decisions, each under the batch key its expression gives."""
    rows = request_rows.select(
        request_key.alias("batch_pk"), pl.col("row_number").cast(pl.Int64), *REQUEST_FIELDS
    )
    bulk_insert(conn, requests, rows)
    dec = decision_rows.select(decision_key.alias("batch_pk"), *DECISION_FIELDS)
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
