"""Suspending a basis or an agency: nothing goes out under it until the suspension is lifted.

A suspension names its scope with the strings requests carry: an ``agency``, a
``legal_basis``, a ``standing_basis`` id (online requests), or a combination; a scope
column left empty matches anything, so ``agency`` alone suspends the whole agency. From
the moment it is recorded, every request in scope is refused with ``basis_suspended``
(the batch-level Cedar rule). Batches in scope that are processed but not yet released
(``UNRELEASED_STATUSES``) are held: their status becomes ``held`` and the hold is recorded
with the status it replaced, so that lifting the last suspension covering a batch restores
it. The suspension, the holds and the lifting are entries in the accounting log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from custodes.errors import UserInputError
from custodes.ledger import LedgerKeys, append_event
from custodes.oversight.tables import holds, suspensions
from custodes.store.schema import batches

UNRELEASED_STATUSES: tuple[str, ...] = ("decided", "processed")
"""Batch statuses that mean processed but not yet released: ``decided`` (``custodes verify``)
and ``processed`` (the service's worker; its release step moves a batch on to ``released``)."""

HELD_STATUS = "held"


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Suspension:
    """One suspension, active or lifted."""

    id: int
    agency: str | None
    legal_basis: str | None
    standing_basis: str | None
    reason: str
    reference: str
    suspended_by: str
    suspended_at: datetime
    ledger_index: int | None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None
    held_batches: tuple[str, ...] = ()

    @property
    def scope(self) -> str:
        """The scope in words, e.g. ``agency 'X', basis '26 USC 6103(i)(2)'``."""
        parts = [
            f"{label} {value!r}"
            for label, value in (
                ("agency", self.agency),
                ("basis", self.legal_basis),
                ("standing basis", self.standing_basis),
            )
            if value
        ]
        return ", ".join(parts)

    def covers(self, agency: str, legal_basis: str, standing_basis: str | None = None) -> bool:
        """Whether a request by ``agency`` under ``legal_basis`` (and standing basis) is in scope."""
        return (
            (self.agency is None or _fold(self.agency) == _fold(agency))
            and (self.legal_basis is None or self.legal_basis == legal_basis)
            and (self.standing_basis is None or self.standing_basis == standing_basis)
        )


def _row(row: object) -> Suspension:
    m = row._mapping  # type: ignore[attr-defined]
    return Suspension(
        id=int(m["id"]),
        agency=m["agency"],
        legal_basis=m["legal_basis"],
        standing_basis=m["standing_basis"],
        reason=m["reason"],
        reference=m["reference"],
        suspended_by=m["suspended_by"],
        suspended_at=m["suspended_at"],
        ledger_index=m["ledger_index"],
        lifted_at=m["lifted_at"],
        lifted_by=m["lifted_by"],
        lift_reason=m["lift_reason"],
    )


def list_suspensions(conn: Connection, *, active_only: bool = False) -> list[Suspension]:
    """Every suspension, oldest first (only those not lifted, if asked)."""
    return [_row(r) for r in conn.execute(_ACTIVE if active_only else _ALL)]


# built once: the active ones are read twice for every online group
_ALL = select(suspensions).order_by(suspensions.c.id)
_ACTIVE = _ALL.where(suspensions.c.lifted_at.is_(None))


def active_suspensions(
    conn: Connection, agency: str, legal_basis: str, standing_basis: str | None = None
) -> list[Suspension]:
    """The suspensions in force that cover a request by ``agency`` under ``legal_basis``."""
    return [
        s for s in list_suspensions(conn, active_only=True) if s.covers(agency, legal_basis, standing_basis)
    ]


def suspended_bases(
    conn: Connection, agency: str, legal_basis: str, standing_basis: str | None = None
) -> frozenset[str]:
    """The bases to pass to ``check_batch(suspended_bases=...)`` for this request."""
    return (
        frozenset({legal_basis})
        if active_suspensions(conn, agency, legal_basis, standing_basis)
        else frozenset()
    )


def _required(value: str | None, flag: str, what: str) -> str:
    if value is None or not value.strip():
        raise UserInputError(f"{what} is required", column=flag, hint=f"give {flag} (it goes into the log)")
    return value.strip()


def _blank_to_none(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _hold_batches(conn: Connection, suspension: Suspension, at: datetime) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(batches.c.agency, batches.c.batch_id, batches.c.legal_basis, batches.c.status)
        .where(batches.c.status.in_(UNRELEASED_STATUSES))
        .order_by(batches.c.id)
    ).all()
    held = []
    for agency, batch_id, basis, status in rows:
        if suspension.standing_basis is not None or not suspension.covers(agency, basis):
            continue
        conn.execute(
            update(batches)
            .where(batches.c.agency == agency, batches.c.batch_id == batch_id, batches.c.status == status)
            .values(status=HELD_STATUS)
        )
        conn.execute(
            insert(holds).values(
                suspension_id=suspension.id,
                agency=agency,
                batch_id=batch_id,
                previous_status=status,
                held_at=at,
            )
        )
        held.append((str(agency), str(batch_id)))
    return held


def suspend(
    conn: Connection,
    keys: LedgerKeys | None,
    *,
    agency: str | None,
    legal_basis: str | None,
    standing_basis: str | None = None,
    reason: str,
    reference: str,
    by: str,
    at: datetime,
    hold_unreleased: bool = True,
) -> Suspension:
    """Record a suspension, hold the unreleased batches in scope and log it; in the caller's transaction."""
    agency, legal_basis, standing_basis = (_blank_to_none(v) for v in (agency, legal_basis, standing_basis))
    if agency is None and legal_basis is None and standing_basis is None:
        raise UserInputError(
            "a suspension needs a scope",
            column="--basis/--agency/--standing-basis",
            hint="name the basis, the agency or the standing basis to suspend",
        )
    reason = _required(reason, "--reason", "the reason")
    reference = _required(reference, "--reference", "a reference (finding, order or memo)")
    by = _required(by, "--by", "who suspends")
    pk = conn.execute(
        insert(suspensions).values(
            agency=agency,
            legal_basis=legal_basis,
            standing_basis=standing_basis,
            reason=reason,
            reference=reference,
            suspended_by=by,
            suspended_at=at,
        )
    ).inserted_primary_key
    assert pk is not None
    suspension = Suspension(int(pk[0]), agency, legal_basis, standing_basis, reason, reference, by, at, None)
    held = _hold_batches(conn, suspension, at) if hold_unreleased else []
    index = None
    if keys is not None:
        entry = {
            "event": "basis_suspended",
            "suspension_id": suspension.id,
            "agency": agency,
            "basis": legal_basis,
            "standing_basis": standing_basis,
            "reason": reason,
            "reference": reference,
            "by": by,
            "held_batches": [{"agency": a, "batch_id": b} for a, b in held],
            "at": at,
        }
        index = append_event(conn, keys, entry).size - 1
        conn.execute(update(suspensions).where(suspensions.c.id == suspension.id).values(ledger_index=index))
    return Suspension(
        suspension.id, agency, legal_basis, standing_basis, reason, reference, by, at, index,
        held_batches=tuple(b for _, b in held),
    )  # fmt: skip


def lift(
    conn: Connection,
    keys: LedgerKeys | None,
    suspension_id: int,
    *,
    reason: str,
    reference: str,
    by: str,
    at: datetime,
) -> Suspension:
    """Lift a suspension and release its holds that no other suspension covers; logged."""
    row = conn.execute(select(suspensions).where(suspensions.c.id == suspension_id)).first()
    if row is None:
        raise UserInputError(
            f"there is no suspension {suspension_id}",
            column="SUSPENSION_ID",
            hint="see `custodes basis list`",
        )
    current = _row(row)
    if current.lifted_at is not None:
        raise UserInputError(
            f"suspension {suspension_id} was already lifted at {current.lifted_at.isoformat()}",
            column="SUSPENSION_ID",
        )
    reason = _required(reason, "--reason", "the reason")
    reference = _required(reference, "--reference", "a reference (finding, order or memo)")
    by = _required(by, "--by", "who lifts")
    conn.execute(
        update(suspensions)
        .where(suspensions.c.id == suspension_id)
        .values(lifted_at=at, lifted_by=by, lift_reason=reason, lift_reference=reference)
    )
    still = list_suspensions(conn, active_only=True)
    released: list[tuple[str, str]] = []
    for hold_id, agency, batch_id, previous in conn.execute(
        select(holds.c.id, holds.c.agency, holds.c.batch_id, holds.c.previous_status).where(
            holds.c.suspension_id == suspension_id, holds.c.lifted_at.is_(None)
        )
    ).all():
        conn.execute(update(holds).where(holds.c.id == hold_id).values(lifted_at=at))
        basis = conn.execute(
            select(batches.c.legal_basis).where(batches.c.agency == agency, batches.c.batch_id == batch_id)
        ).scalar_one()
        covering = [s for s in still if s.standing_basis is None and s.covers(agency, basis)]
        if covering:
            # the batch stays held, now under the next suspension that covers it
            conn.execute(
                insert(holds).values(
                    suspension_id=covering[0].id,
                    agency=agency,
                    batch_id=batch_id,
                    previous_status=previous,
                    held_at=at,
                )
            )
            continue
        conn.execute(
            update(batches)
            .where(
                batches.c.agency == agency, batches.c.batch_id == batch_id, batches.c.status == HELD_STATUS
            )
            .values(status=previous)
        )
        released.append((str(agency), str(batch_id)))
    index = None
    if keys is not None:
        entry = {
            "event": "basis_lifted",
            "suspension_id": suspension_id,
            "reason": reason,
            "reference": reference,
            "by": by,
            "released_holds": [{"agency": a, "batch_id": b} for a, b in released],
            "at": at,
        }
        index = append_event(conn, keys, entry).size - 1
        conn.execute(
            update(suspensions).where(suspensions.c.id == suspension_id).values(lift_ledger_index=index)
        )
    return _row(conn.execute(select(suspensions).where(suspensions.c.id == suspension_id)).one())
