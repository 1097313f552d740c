"""The service's reads and writes of the operational store: people, keys, bases, batch workflow.

Every function runs in the caller's connection (and transaction); bound parameters only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from custodes.errors import ConflictError, NotFoundError, UserInputError
from custodes.store.schema import (
    agencies,
    api_keys,
    batches,
    decisions,
    idempotency_keys,
    requests,
    staff,
    standing_bases,
)

RECEIVED, PROCESSING, PROCESSED, RELEASED, FAILED, HELD = (
    "received", "processing", "processed", "released", "failed", "held",
)  # fmt: skip
"""A service batch's states: received -> processing -> processed -> released; or failed, or held."""


@dataclass(frozen=True)
class StoredKey:
    """An API key's row, without its hash."""

    key_id: str
    secret_hash: str
    agency: str | None
    staff: str | None
    holder: str | None
    role: str
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class StandingBasis:
    """A standing basis for online verification, as registered by a policy_admin."""

    id: str
    agency: str
    legal_basis: str
    statutory_authority: str
    taxable_periods: tuple[str, ...]
    reason: str
    signer_name: str
    signer_title: str
    disclosure_profile: str
    expires_at: datetime
    registered_by: str


def aware(at: datetime | None) -> datetime | None:
    """``at`` as timezone-aware UTC (SQLite returns naive datetimes)."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def _unique(conn: Connection, statement: Any, what: str) -> None:
    try:
        with conn.begin_nested():
            conn.execute(statement)
    except IntegrityError as exc:
        raise ConflictError(f"{what} already exists", kind="exists") from exc


def add_agency(conn: Connection, name: str, now: datetime) -> None:
    """Register a requesting agency."""
    _unique(conn, insert(agencies).values(name=name, created_at=now), f"agency {name!r}")


def add_staff(conn: Connection, name: str, role: str, now: datetime) -> None:
    """Register one of the custodian's people with their role."""
    _unique(conn, insert(staff).values(name=name, role=role, created_at=now), f"staff member {name!r}")


def staff_role(conn: Connection, name: str) -> str:
    """A staff member's role; ``NotFoundError`` if there is no such person."""
    role = conn.execute(select(staff.c.role).where(staff.c.name == name)).scalar()
    if role is None:
        raise NotFoundError(f"no staff member named {name!r}: add them with `custodes staff add`")
    return str(role)


def require_agency(conn: Connection, name: str) -> None:
    """``NotFoundError`` unless ``name`` is a registered agency."""
    if conn.execute(select(agencies.c.id).where(agencies.c.name == name)).first() is None:
        raise NotFoundError(f"no agency named {name!r}: add it with `custodes agency add`")


def insert_key(
    conn: Connection,
    *,
    key_id: str,
    secret_hash: str,
    agency: str | None,
    staff_name: str | None,
    holder: str | None,
    role: str,
    now: datetime,
    expires_at: datetime | None,
) -> None:
    """Store a new key's hash."""
    conn.execute(
        insert(api_keys).values(
            key_id=key_id,
            secret_hash=secret_hash,
            agency=agency,
            staff=staff_name,
            holder=holder,
            role=role,
            created_at=now,
            expires_at=expires_at,
        )
    )


def find_key(conn: Connection, key_id: str) -> StoredKey | None:
    """The key with this id, or None."""
    row = conn.execute(
        select(
            api_keys.c.key_id,
            api_keys.c.secret_hash,
            api_keys.c.agency,
            api_keys.c.staff,
            api_keys.c.holder,
            api_keys.c.role,
            api_keys.c.expires_at,
            api_keys.c.revoked_at,
        ).where(api_keys.c.key_id == key_id)
    ).first()
    if row is None:
        return None
    return StoredKey(
        key_id=row.key_id,
        secret_hash=row.secret_hash,
        agency=row.agency,
        staff=row.staff,
        holder=row.holder,
        role=row.role,
        expires_at=aware(row.expires_at),
        revoked_at=aware(row.revoked_at),
    )


def revoke_key(conn: Connection, key_id: str, now: datetime) -> None:
    """Revoke a key from ``now`` on; ``NotFoundError`` if there is no such key."""
    done = conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if done.rowcount != 1:
        if find_key(conn, key_id) is None:
            raise NotFoundError(f"no API key with id {key_id!r}")
        raise ConflictError(f"API key {key_id!r} is already revoked", kind="already-revoked")


def insert_basis(conn: Connection, basis: StandingBasis, now: datetime) -> None:
    """Store a standing basis."""
    _unique(
        conn,
        insert(standing_bases).values(
            id=basis.id,
            agency=basis.agency,
            legal_basis=basis.legal_basis,
            statutory_authority=basis.statutory_authority,
            taxable_periods=json.dumps(list(basis.taxable_periods)),
            reason=basis.reason,
            signer_name=basis.signer_name,
            signer_title=basis.signer_title,
            disclosure_profile=basis.disclosure_profile,
            expires_at=basis.expires_at,
            registered_by=basis.registered_by,
            registered_at=now,
        ),
        f"standing basis {basis.id!r}",
    )


def find_basis(conn: Connection, basis_id: str) -> StandingBasis | None:
    """The standing basis with this id, or None."""
    row = conn.execute(select(standing_bases).where(standing_bases.c.id == basis_id)).first()
    if row is None:
        return None
    expires = aware(row.expires_at)
    assert expires is not None
    return StandingBasis(
        id=row.id,
        agency=row.agency,
        legal_basis=row.legal_basis,
        statutory_authority=row.statutory_authority,
        taxable_periods=tuple(json.loads(row.taxable_periods)),
        reason=row.reason,
        signer_name=row.signer_name,
        signer_title=row.signer_title,
        disclosure_profile=row.disclosure_profile,
        expires_at=expires,
        registered_by=row.registered_by,
    )


# -- batches -------------------------------------------------------------------------------


def insert_received(
    conn: Connection,
    *,
    public_id: str,
    batch_id: str,
    agency: str,
    legal_basis: str,
    manifest_json: str,
    manifest_sha256: str,
    requests_sha256: str,
    record_count: int,
    submitted_by: str,
    submitted_key: str,
    files_dir: str,
    now: datetime,
) -> int:
    """Register a received batch; ``ConflictError`` when the agency already used this batch_id."""
    try:
        with conn.begin_nested():
            pk = conn.execute(
                insert(batches).values(
                    public_id=public_id,
                    batch_id=batch_id,
                    agency=agency,
                    legal_basis=legal_basis,
                    status=RECEIVED,
                    manifest_json=manifest_json,
                    manifest_sha256=manifest_sha256,
                    requests_sha256=requests_sha256,
                    record_count=record_count,
                    received_at=now,
                    submitted_by=submitted_by,
                    submitted_key=submitted_key,
                    files_dir=files_dir,
                    attempts=0,
                )
            ).inserted_primary_key
    except IntegrityError as exc:
        raise ConflictError(
            f"batch_id {batch_id!r} was already submitted by {agency}; batches are never merged or "
            "replaced: submit new requests under a new batch_id",
            kind="batch-exists",
        ) from exc
    assert pk is not None
    return int(pk[0])


def find_batch(conn: Connection, public_id: str) -> Row[Any]:
    """A service batch's row by its public id; ``NotFoundError`` if there is none."""
    row = conn.execute(select(batches).where(batches.c.public_id == public_id)).first()
    if row is None:
        raise NotFoundError(f"no batch with id {public_id!r}")
    return row


def list_batches(conn: Connection, *, agency: str | None, statuses: Sequence[str] = ()) -> list[Row[Any]]:
    """Service batches, newest first; only ``agency``'s when given, only in ``statuses`` when given."""
    query = select(batches).where(batches.c.public_id.is_not(None), batches.c.submitted_key.is_not(None))
    query = query.where(batches.c.files_dir.is_not(None))
    if agency is not None:
        query = query.where(batches.c.agency == agency)
    if statuses:
        query = query.where(batches.c.status.in_(list(statuses)))
    return list(conn.execute(query.order_by(batches.c.id.desc()).limit(500)).all())


def counts(conn: Connection, batch_pk: int) -> list[tuple[str, str, int]]:
    """(outcome, reason, count) of one batch's decisions, most frequent first."""
    rows = conn.execute(
        select(decisions.c.outcome, decisions.c.reason, func.count())
        .where(decisions.c.batch_pk == batch_pk)
        .group_by(decisions.c.outcome, decisions.c.reason)
    ).all()
    return sorted(((str(o), str(r), int(n)) for o, r, n in rows), key=lambda t: (-t[2], t[0], t[1]))


_REVIEW_COLUMNS = (
    requests.c.row_number, requests.c.request_id, requests.c.first_name, requests.c.last_name,
    requests.c.dob, requests.c.street, requests.c.city, requests.c.state, requests.c.zip, requests.c.tin,
    decisions.c.outcome, decisions.c.reason,
)  # fmt: skip


def rows_for_review(
    conn: Connection, batch_pk: int, outcomes: Sequence[str], limit: int
) -> list[Row[*tuple[Any, ...]]]:
    """Request rows whose decision is in ``outcomes``, with the decision, for a disclosure officer."""
    joined = and_(
        decisions.c.batch_pk == requests.c.batch_pk, decisions.c.request_id == requests.c.request_id
    )
    query = (
        select(*_REVIEW_COLUMNS)
        .join(decisions, joined)
        .where(requests.c.batch_pk == batch_pk, decisions.c.outcome.in_(list(outcomes)))
        .order_by(requests.c.row_number)
        .limit(limit)
    )
    return list(conn.execute(query).all())


def claim_next(conn: Connection, now: datetime, lease: timedelta) -> Row[Any] | None:
    """Claim the oldest received batch for processing (status and lease set); None if there is none."""
    for candidate in conn.execute(
        select(batches.c.id).where(batches.c.status == RECEIVED).order_by(batches.c.id).limit(5)
    ).scalars():
        done = conn.execute(
            update(batches)
            .where(batches.c.id == candidate, batches.c.status == RECEIVED)
            .values(status=PROCESSING, attempts=batches.c.attempts + 1, lease_until=now + lease)
        )
        if done.rowcount == 1:
            return conn.execute(select(batches).where(batches.c.id == candidate)).first()
    return None


def extend_lease(conn: Connection, batch_pk: int, until: datetime) -> None:
    """Keep a claimed batch claimed."""
    conn.execute(
        update(batches)
        .where(batches.c.id == batch_pk, batches.c.status == PROCESSING)
        .values(lease_until=until)
    )


def expired_claims(conn: Connection, now: datetime) -> list[Row[Any]]:
    """Batches whose worker stopped renewing its claim (it crashed or was killed)."""
    return list(
        conn.execute(
            select(batches).where(
                batches.c.status == PROCESSING,
                or_(batches.c.lease_until.is_(None), batches.c.lease_until < now),
            )
        ).all()
    )


def set_status(
    conn: Connection, batch_pk: int, *, expect: Sequence[str], status: str, **values: object
) -> bool:
    """Move a batch to ``status`` if it is in one of ``expect``; whether it moved."""
    done = conn.execute(
        update(batches)
        .where(batches.c.id == batch_pk, batches.c.status.in_(list(expect)))
        .values(status=status, **values)
    )
    return done.rowcount == 1


# -- idempotency ---------------------------------------------------------------------------


def claim_idempotency(
    conn: Connection, agency: str, key: str, request_sha256: str, now: datetime
) -> tuple[int, str] | None:
    """Claim ``key`` for a new request; or the stored (status, body) of the request it already answered.

    ``ConflictError`` when the key is in use by a request still being answered, and
    ``UserInputError`` when it was used for a different request.
    """
    try:
        with conn.begin_nested():
            conn.execute(
                insert(idempotency_keys).values(
                    agency=agency, key=key, request_sha256=request_sha256, created_at=now
                )
            )
        return None
    except IntegrityError:
        pass
    row = conn.execute(
        select(idempotency_keys).where(idempotency_keys.c.agency == agency, idempotency_keys.c.key == key)
    ).first()
    if row is None:
        raise ConflictError(
            "the Idempotency-Key was released while this request arrived; retry", kind="idempotency"
        )
    if row.request_sha256 != request_sha256:
        raise UserInputError(
            "this Idempotency-Key was used for a different request",
            column="Idempotency-Key",
            hint="use a new key for every distinct request; repeat a key only to retry the same request",
        )
    if row.status_code is None:
        raise ConflictError(
            "a request with this Idempotency-Key is still being answered; retry shortly", kind="idempotency"
        )
    return int(row.status_code), str(row.response_json)


def finish_idempotency(conn: Connection, agency: str, key: str, status_code: int, body: str) -> None:
    """Store the answer given under ``key``."""
    conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.agency == agency, idempotency_keys.c.key == key)
        .values(status_code=status_code, response_json=body)
    )


def release_idempotency(conn: Connection, agency: str, key: str) -> None:
    """Forget an unanswered claim (the request failed before anything was recorded)."""
    conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.agency == agency,
            idempotency_keys.c.key == key,
            idempotency_keys.c.status_code.is_(None),
        )
    )
