"""The service's one object: identities, authorisation, the batch workflow and online verification.

The HTTP API, the reviewer UI and the CLI's administration commands are thin wrappers
around ``Desk``; ``Desk`` calls the ``Gateway`` for every decision about a subject. Each
state change is appended to the accounting log in the transaction that makes it, and every
denial is logged and appended too. No API key, TIN or custodian secret is ever logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Row

from custodes.codes import Outcome
from custodes.config import I1, I2
from custodes.contract import (
    DISCLOSURE_PROFILES,
    REQUEST_COLUMNS,
    Manifest,
    Signer,
    check_record_count,
    read_manifest,
    read_requests,
)
from custodes.errors import (
    AuthenticationError,
    BatchFileError,
    ConflictError,
    ManifestError,
    NotFoundError,
    PermissionDeniedError,
    UserInputError,
)
from custodes.gateway import Gateway
from custodes.legal import check_batch
from custodes.legal.cedar import CedarValue
from custodes.service import records
from custodes.service.authz import (
    AGENCY_ROLES,
    DESK,
    STAFF_ROLES,
    Caller,
    basis_resource,
    batch_resource,
    forbidding_rules,
)
from custodes.service.keys import KeyVerifier, hash_key, key_id_of, new_key
from custodes.store.records import registered_agencies

log = logging.getLogger("custodes.service")

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""Control characters: never part of a name, an address or a manifest field."""

REVIEW_OUTCOMES = (Outcome.AMBIGUOUS.value, Outcome.REFUSED.value)
"""The rows a disclosure officer reviews before release."""

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def mask_tin(tin: str | None) -> str:
    """A TIN as a reviewer may see it: ``***-**-1234`` (blank stays blank)."""
    if not tin:
        return ""
    digits = "".join(ch for ch in tin if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "***-**-****"


def _now() -> datetime:
    return datetime.now(UTC)


def _walk_strings(value: object, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield where + str(key), str(key)
            yield from _walk_strings(item, f"{where}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, f"{where.rstrip('.')}[{index}].")


def check_manifest_text(manifest: Manifest) -> None:
    """``ManifestError`` when any manifest string holds a control character."""
    for where, text in _walk_strings(manifest.raw, ""):
        if CONTROL.search(text):
            raise ManifestError(
                "holds a control character",
                file="manifest",
                column=where.rstrip("."),
                hint="remove control characters (tabs, line breaks, NUL, ...) from manifest values",
            )


def check_request_text(frame: pl.DataFrame, file: str) -> None:
    """``BatchFileError`` naming the first row and column whose value holds a control character."""
    for column in REQUEST_COLUMNS:
        bad = frame.filter(pl.col(column).str.contains(CONTROL.pattern).fill_null(False))
        if bad.height:
            raise BatchFileError(
                "holds a control character",
                file=file,
                row=int(bad["row_number"][0]),
                column=column,
                hint="remove control characters (tabs, line breaks, NUL, ...) from the values",
            )


@dataclass(frozen=True)
class Submission:
    """A batch accepted for processing."""

    public_id: str
    batch_id: str
    status: str


class Desk:
    """The service over one Gateway: who may do what, and the batch workflow."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.settings = gateway.settings
        self.engine = gateway.engine
        self._verifier = KeyVerifier()
        self._bases: dict[str, records.StandingBasis] = {}
        """Standing bases found, by id: a registered basis is never changed or removed (its
        expiry is in the row and checked on each use), so it is read from the store once."""

    @property
    def files_root(self) -> Path:
        """Where each received batch's files and outputs live (one directory per batch)."""
        return self.settings.home / "service" / "batches"

    # -- identities ----------------------------------------------------------------------
    def authenticate(self, presented: str | None, now: datetime | None = None) -> Caller:
        """The caller holding the API key ``presented``; ``AuthenticationError`` otherwise."""
        now = now or _now()
        if not presented:
            raise AuthenticationError("no API key: send `Authorization: Bearer <key>`")
        key_id = key_id_of(presented)
        if key_id is None:
            raise AuthenticationError("the API key is malformed: keys look like cus_<16 hex>_<43 characters>")
        stored = self._stored_key(key_id)
        if stored is None or not self._verifier.matches(key_id, stored.secret_hash, presented):
            raise AuthenticationError("the API key is not valid")
        return self._holder(stored, now)

    def authenticate_remembered(self, presented: str | None, now: datetime | None = None) -> Caller | None:
        """``authenticate`` for a key this process has verified before, or None when it has not
        (or the key is absent, malformed or unknown): then ``authenticate`` must decide, and
        may take the slow hash. Never hashes, so the service calls it on its event loop; the
        key's row is still read from the store, so a revocation or expiry holds at once."""
        key_id = key_id_of(presented) if presented else None
        if key_id is None:
            return None
        stored = self._stored_key(key_id)
        if stored is None or not self._verifier.remembered(key_id, stored.secret_hash, presented or ""):
            return None
        return self._holder(stored, now or _now())

    def _stored_key(self, key_id: str) -> records.StoredKey | None:
        with self.engine.connect() as conn:
            return records.find_key(conn, key_id)

    def caller_of_key(self, key_id: str, now: datetime | None = None) -> Caller:
        """The caller of a key authenticated before (a UI session's), if it is still in force."""
        stored = self._stored_key(key_id)
        if stored is None:
            raise AuthenticationError("the API key is not valid")
        return self._holder(stored, now or _now())

    @staticmethod
    def _holder(stored: records.StoredKey, now: datetime) -> Caller:
        key_id = stored.key_id
        if stored.revoked_at is not None:
            raise AuthenticationError(f"API key {key_id} was revoked at {stored.revoked_at.isoformat()}")
        if stored.expires_at is not None and stored.expires_at <= now:
            raise AuthenticationError(f"API key {key_id} expired at {stored.expires_at.isoformat()}")
        person = stored.staff or stored.holder or key_id
        return Caller(key_id=key_id, role=stored.role, agency=stored.agency, person=person)

    def authorize(
        self,
        caller: Caller,
        action: str,
        resource: tuple[str, str, Mapping[str, CedarValue]],
        context: Mapping[str, CedarValue] | None = None,
        *,
        batch_id: str | None = None,
    ) -> None:
        """Raise ``PermissionDeniedError`` naming the rule when Cedar forbids the act.

        The denial is logged and appended to the accounting log before it is raised.
        """
        rules = forbidding_rules(caller, action, resource, context)
        if not rules:
            return
        kind, name, _ = resource
        log.warning(
            "denied %s on %s %s to key %s (role %s, agency %s): rule %s",
            action,
            kind,
            name,
            caller.key_id,
            caller.role,
            caller.agency or "-",
            rules[0],
        )
        entry: dict[str, object] = {
            "event": "access_denied",
            "action": action,
            "resource": f"{kind}/{name}",
            "key_id": caller.key_id,
            "role": caller.role,
            "caller_agency": caller.agency,
            "person": caller.person,
            "rule": rules[0],
            "rules": list(rules),
            "at": _now(),
        }
        if batch_id is not None:
            entry["batch_id"] = batch_id
        with self.engine.begin() as conn:
            self.gateway.append_event(conn, entry)
        raise PermissionDeniedError(
            f"{caller.role} may not {action.replace('_', ' ')}: rule {rules[0]}", rule=rules[0]
        )

    # -- administration (CLI) ------------------------------------------------------------
    def _event(self, conn: Connection, event: str, **fields: object) -> None:
        self.gateway.append_event(conn, {"event": event, "at": _now(), **fields})

    def add_agency(self, name: str) -> None:
        """Register a requesting agency."""
        name = _plain(name, "agency")
        with self.engine.begin() as conn:
            records.add_agency(conn, name, _now())
            self._event(conn, "agency_added", agency=name)

    def add_staff(self, name: str, role: str) -> None:
        """Register a staff member with one role."""
        name = _plain(name, "name")
        if role not in STAFF_ROLES:
            raise UserInputError(
                f"{role!r} is not a staff role", column="role", hint=f"use one of {STAFF_ROLES}"
            )
        with self.engine.begin() as conn:
            records.add_staff(conn, name, role, _now())
            self._event(conn, "staff_added", person=name, role=role)

    def issue_key(
        self,
        *,
        agency: str | None = None,
        staff: str | None = None,
        role: str | None = None,
        holder: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, str]:
        """Issue an API key; returns (key id, key). The key is not stored and cannot be shown again."""
        if (agency is None) == (staff is None):
            raise UserInputError(
                "name exactly one of --agency and --staff", hint="an API key belongs to one principal"
            )
        now = _now()
        if expires_at is not None and expires_at <= now:
            raise UserInputError("the expiry is in the past", column="expires", hint="give a future date")
        key_id, key = new_key()
        with self.engine.begin() as conn:
            if agency is not None:
                role = role or AGENCY_ROLES[0]
                if role not in AGENCY_ROLES:
                    raise UserInputError(
                        f"{role!r} is not an agency role", column="role", hint=f"use one of {AGENCY_ROLES}"
                    )
                records.require_agency(conn, agency)
            else:
                assert staff is not None
                staff_role = records.staff_role(conn, staff)
                if role is not None and role != staff_role:
                    raise UserInputError(
                        f"{staff} is a {staff_role}; a staff key carries the person's role",
                        column="role",
                        hint="leave --role out for staff keys",
                    )
                role = staff_role
            records.insert_key(
                conn,
                key_id=key_id,
                secret_hash=hash_key(key),
                agency=agency,
                staff_name=staff,
                holder=_plain(holder, "holder") if holder else None,
                role=role,
                now=now,
                expires_at=expires_at,
            )
            self._event(
                conn,
                "key_issued",
                key_id=key_id,
                role=role,
                agency=agency,
                person=staff or holder,
                expires_at=expires_at,
            )
        return key_id, key

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key at once."""
        with self.engine.begin() as conn:
            records.revoke_key(conn, key_id, _now())
            self._event(conn, "key_revoked", key_id=key_id)

    def register_basis(self, basis: records.StandingBasis) -> None:
        """Register a standing basis for online verification; the registrar must be a policy_admin.

        The basis is judged by the same legal checks as a batch manifest now, and refused
        (naming the failed element) if it would refuse every request.
        """
        now = _now()
        with self.engine.connect() as conn:
            role = records.staff_role(conn, basis.registered_by)
            records.require_agency(conn, basis.agency)
            agencies = registered_agencies(conn)
        caller = Caller(
            key_id=f"staff:{basis.registered_by}", role=role, agency=None, person=basis.registered_by
        )
        self.authorize(caller, "register_basis", basis_resource(basis.id, basis.agency))
        if basis.expires_at <= now:
            raise UserInputError(
                "the basis expires in the past", column="expires", hint="give a future expiry"
            )
        manifest = basis_manifest(basis, f"registration-{basis.id}", now)
        legal = replace(self.settings, agencies=(*self.settings.agencies, *agencies))
        verdict = check_batch(manifest, legal, now, 1)
        if not verdict.allowed:
            raise UserInputError(
                f"the legal checks refuse this basis: {', '.join(r.value for r in verdict.reasons)}",
                column=verdict.reasons[0].value,
                hint="see docs/legal-checks.md for what each element requires",
            )
        with self.engine.begin() as conn:
            records.insert_basis(conn, basis, now)
            self._event(
                conn,
                "basis_registered",
                basis_id=basis.id,
                agency=basis.agency,
                basis=basis.legal_basis,
                statutory_authority=basis.statutory_authority,
                profile=basis.disclosure_profile,
                expires_at=basis.expires_at,
                person=basis.registered_by,
            )

    # -- batches ---------------------------------------------------------------------------
    def new_batch_dir(self) -> tuple[str, Path]:
        """A fresh public id and the directory its files are streamed into."""
        public_id = str(uuid.uuid4())
        directory = self.files_root / public_id
        directory.mkdir(parents=True, exist_ok=False)
        return public_id, directory

    def submit(self, caller: Caller, public_id: str, directory: Path, requests_name: str) -> Submission:
        """Accept a batch whose manifest and requests were streamed into ``directory``.

        The manifest and the file are read and checked now (a broken file is refused before
        anything is recorded); linkage runs later in the background worker.
        """
        manifest_path = directory / "manifest.json"
        requests_path = directory / requests_name
        manifest = read_manifest(manifest_path)
        self.authorize(
            caller,
            "submit_batch",
            batch_resource(public_id, manifest.agency, caller.person, caller.key_id),
            batch_id=manifest.batch_id,
        )
        check_manifest_text(manifest)
        frame = read_requests(requests_path)
        check_record_count(manifest, requests_path, frame)
        check_request_text(frame, requests_name)
        now = _now()
        with self.engine.begin() as conn:
            records.insert_received(
                conn,
                public_id=public_id,
                batch_id=manifest.batch_id,
                agency=manifest.agency,
                legal_basis=manifest.legal_basis,
                manifest_json=json.dumps(manifest.raw, sort_keys=True),
                manifest_sha256=manifest.sha256,
                requests_sha256=_sha256(requests_path),
                record_count=frame.height,
                submitted_by=caller.person,
                submitted_key=caller.key_id,
                files_dir=f"{public_id}/{requests_name}",
                now=now,
            )
            self._event(
                conn,
                "batch_received",
                batch_id=manifest.batch_id,
                agency=manifest.agency,
                public_id=public_id,
                manifest_sha256=manifest.sha256,
                requests=frame.height,
                key_id=caller.key_id,
            )
        log.info("received batch %s (%s rows) from key %s", public_id, frame.height, caller.key_id)
        return Submission(public_id=public_id, batch_id=manifest.batch_id, status=records.RECEIVED)

    def _batch(self, caller: Caller, public_id: str, action: str) -> Row[Any]:
        with self.engine.connect() as conn:
            row = records.find_batch(conn, public_id)
        self.authorize(
            caller,
            action,
            batch_resource(public_id, row.agency, row.submitted_by or "", row.submitted_key or ""),
            batch_id=row.batch_id,
        )
        return row

    def status(self, caller: Caller, public_id: str) -> dict[str, object]:
        """A batch's state and counts, as this caller may see them."""
        row = self._batch(caller, public_id, "view_batch")
        with self.engine.connect() as conn:
            return self._describe(conn, row, caller)

    def _describe(self, conn: Connection, row: Row[Any], caller: Caller) -> dict[str, object]:
        staff_view = caller.is_staff
        out: dict[str, object] = {
            "id": row.public_id,
            "batch_id": row.batch_id,
            "agency": row.agency,
            "status": row.status,
            "requests": row.record_count,
            "received_at": records.aware(row.received_at),
            "completed_at": records.aware(row.completed_at),
            "released_at": records.aware(row.released_at),
            "batch_reason": row.batch_reason,
            "error": row.error,
            "counts": [],
        }
        if staff_view:
            out["released_by"] = row.released_by
            out["submitted_by"] = row.submitted_by
        if staff_view or row.status == records.RELEASED:
            raw = records.counts(conn, row.id)
            out["counts"] = [
                {"outcome": o, "reason": r, "count": n}
                for o, r, n in (raw if staff_view else _agency_counts(raw))
            ]
        return out

    def list(self, caller: Caller, statuses: Sequence[str] = ()) -> list[dict[str, object]]:
        """Batches this caller may see (an agency: its own), newest first."""
        self.authorize(caller, "list_batches", DESK)
        with self.engine.connect() as conn:
            rows = records.list_batches(
                conn, agency=None if caller.is_staff else caller.agency, statuses=statuses
            )
            return [self._describe(conn, row, caller) for row in rows]

    def review(self, caller: Caller, public_id: str, limit: int = 200) -> dict[str, object]:
        """A batch's counts and its ambiguous and refused rows, TINs masked, for a disclosure officer."""
        row = self._batch(caller, public_id, "review_batch")
        with self.engine.connect() as conn:
            described = self._describe(conn, row, caller)
            rows = records.rows_for_review(conn, row.id, REVIEW_OUTCOMES, limit)
        described["rows"] = [
            {
                "row": r.row_number,
                "request_id": r.request_id,
                "name": " ".join(p for p in (r.first_name, r.last_name) if p),
                "dob": r.dob or "",
                "address": ", ".join(p for p in (r.street, r.city, r.state, r.zip) if p),
                "tin": mask_tin(r.tin),
                "outcome": r.outcome,
                "reason": r.reason,
            }
            for r in rows
        ]
        return described

    def release(self, caller: Caller, public_id: str) -> dict[str, object]:
        """Release a processed batch's response to its agency (a disclosure officer, not its submitter)."""
        row = self._batch(caller, public_id, "release_batch")
        now = _now()
        with self.engine.begin() as conn:
            moved = records.set_status(
                conn,
                row.id,
                expect=[records.PROCESSED],
                status=records.RELEASED,
                released_by=caller.person,
                released_at=now,
            )
            if not moved:
                current = records.find_batch(conn, public_id).status
                raise ConflictError(
                    f"batch {public_id} is {current}; only a processed batch can be released",
                    kind="batch-state",
                )
            self._event(
                conn,
                "batch_released",
                batch_id=row.batch_id,
                agency=row.agency,
                public_id=public_id,
                person=caller.person,
                key_id=caller.key_id,
            )
            described = self._describe(conn, records.find_batch(conn, public_id), caller)
        log.info("batch %s released by key %s", public_id, caller.key_id)
        return described

    def hold(self, caller: Caller, public_id: str, reason: str) -> dict[str, object]:
        """Hold a processed batch back from release (a disclosure officer), with a reason."""
        row = self._batch(caller, public_id, "hold_batch")
        reason = _plain(reason, "reason")
        with self.engine.begin() as conn:
            if not records.set_status(
                conn, row.id, expect=[records.PROCESSED], status=records.HELD, error=f"held: {reason}"
            ):
                current = records.find_batch(conn, public_id).status
                raise ConflictError(
                    f"batch {public_id} is {current}; only a processed batch can be held", kind="batch-state"
                )
            self._event(
                conn,
                "batch_held",
                batch_id=row.batch_id,
                agency=row.agency,
                public_id=public_id,
                person=caller.person,
                reason=reason,
            )
            return self._describe(conn, records.find_batch(conn, public_id), caller)

    def response_path(self, caller: Caller, public_id: str) -> Path:
        """The released response file; only the submitting agency, only after release."""
        row = self._batch(caller, public_id, "download_response")
        if row.status != records.RELEASED:
            raise ConflictError(
                f"batch {public_id} is {row.status}; its response is available once a disclosure "
                "officer has released it",
                kind="not-released",
            )
        path = self._dir(row) / "result" / "response.csv"
        if not path.exists():
            raise NotFoundError(f"the response file of batch {public_id} is missing from {path.parent}")
        return path

    def _dir(self, row: Row[Any]) -> Path:
        return self.files_root / str(row.files_dir).split("/", 1)[0]

    # -- the worker ------------------------------------------------------------------------
    def recover(self, now: datetime | None = None) -> int:
        """Put batches whose worker died back in the queue (or fail them after too many tries)."""
        now = now or _now()
        moved = 0
        with self.engine.begin() as conn:
            for row in records.expired_claims(conn, now):
                if row.attempts >= self.settings.service.max_attempts:
                    status, event = records.FAILED, "batch_failed"
                    error = f"processing stopped {row.attempts} times without finishing; not retried"
                else:
                    status, event, error = records.RECEIVED, "batch_requeued", None
                if records.set_status(
                    conn, row.id, expect=[records.PROCESSING], status=status, lease_until=None, error=error
                ):
                    moved += 1
                    self._event(
                        conn, event, batch_id=row.batch_id, agency=row.agency, public_id=row.public_id
                    )
        return moved

    def process_next(self, now: datetime | None = None) -> str | None:
        """Claim and process the oldest received batch; its public id, or None if none waits."""
        now = now or _now()
        lease = timedelta(seconds=self.settings.service.lease_seconds)
        with self.engine.begin() as conn:
            row = records.claim_next(conn, now, lease)
            if row is None:
                return None
            self._event(
                conn,
                "batch_processing",
                batch_id=row.batch_id,
                agency=row.agency,
                public_id=row.public_id,
                attempt=row.attempts,
            )
        directory = self._dir(row)
        requests_name = str(row.files_dir).split("/", 1)[1]
        with self._heartbeat(row.id, lease):
            try:
                self.gateway.verify_batch(
                    directory / requests_name,
                    directory / "manifest.json",
                    directory / "result",
                    claimed=row.id,
                )
            except UserInputError as exc:
                self._fail(row, exc.render())
            except Exception as exc:
                log.exception("processing batch %s failed (attempt %s)", row.public_id, row.attempts)
                if row.attempts >= self.settings.service.max_attempts:
                    self._fail(row, f"processing failed {row.attempts} times: {type(exc).__name__}")
                else:
                    with self.engine.begin() as conn:
                        if records.set_status(
                            conn,
                            row.id,
                            expect=[records.PROCESSING],
                            status=records.RECEIVED,
                            lease_until=None,
                        ):
                            self._event(
                                conn,
                                "batch_requeued",
                                batch_id=row.batch_id,
                                agency=row.agency,
                                public_id=row.public_id,
                            )
        return str(row.public_id)

    def _fail(self, row: Row[Any], error: str) -> None:
        with self.engine.begin() as conn:
            if records.set_status(
                conn,
                row.id,
                expect=[records.PROCESSING],
                status=records.FAILED,
                error=error,
                lease_until=None,
            ):
                self._event(
                    conn, "batch_failed", batch_id=row.batch_id, agency=row.agency, public_id=row.public_id
                )
        log.warning("batch %s failed: %s", row.public_id, error.splitlines()[0])

    @contextmanager
    def _heartbeat(self, batch_pk: int, lease: timedelta) -> Iterator[None]:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(max(lease.total_seconds() / 3, 0.05)):
                with self.engine.begin() as conn:
                    records.extend_lease(conn, batch_pk, _now() + lease)

        thread = threading.Thread(target=beat, name=f"lease-{batch_pk}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # -- online verification ---------------------------------------------------------------
    def start_verification(
        self, caller: Caller, basis_id: str, subject: Mapping[str, str | None]
    ) -> tuple[str, Future[dict[str, object]]] | None:
        """``verify`` without an Idempotency-Key and without waiting, when nothing before the
        verification itself needs the store: the standing basis is known to this process and
        Cedar allows the act. Returns (verification id, the future of its response row), or
        None: then ``verify`` must be called, which reads the basis, or records and raises the
        denial. Nothing here blocks, so the service calls it on its event loop.
        """
        now = _now()
        basis = self._bases.get(basis_id)
        if basis is None:
            return None
        if forbidding_rules(caller, "verify_subject", *_verify_question(basis, now)):
            return None
        verification_id = f"v-{uuid.uuid4().hex}"
        pending = self.gateway.submit_subject(
            basis_manifest(basis, verification_id, now),
            subject,
            now=now,
            recorded_as=self._recorded_as(caller, basis, verification_id, now),
        )
        return verification_id, pending

    @staticmethod
    def _recorded_as(
        caller: Caller, basis: records.StandingBasis, verification_id: str, now: datetime
    ) -> dict[str, object]:
        return {
            "public_id": verification_id,
            "submitted_by": caller.person,
            "submitted_key": caller.key_id,
            "released_by": f"standing basis {basis.id}",
            "released_at": now,
        }

    def verify(
        self,
        caller: Caller,
        basis_id: str,
        subject: Mapping[str, str | None],
        idempotency_key: str | None = None,
    ) -> tuple[str, dict[str, object], bool]:
        """Verify one subject under a standing basis: (verification id, response row, replayed)."""
        now = _now()
        basis = self._bases.get(basis_id)
        if basis is None:
            with self.engine.connect() as conn:
                basis = records.find_basis(conn, basis_id)
            if basis is None:
                raise NotFoundError(f"no standing basis with id {basis_id!r}")
            self._bases[basis_id] = basis
        self.authorize(caller, "verify_subject", *_verify_question(basis, now))
        agency = caller.agency or ""
        if idempotency_key is not None:
            fingerprint = hashlib.sha256(
                json.dumps([basis_id, dict(subject)], sort_keys=True, ensure_ascii=False).encode()
            ).hexdigest()
            with self.engine.begin() as conn:
                stored = records.claim_idempotency(conn, agency, idempotency_key, fingerprint, now)
            if stored is not None:
                body = json.loads(stored[1])
                return str(body["verification_id"]), dict(body["response"]), True
        verification_id = f"v-{uuid.uuid4().hex}"
        try:
            row = self.gateway.verify_subject(
                basis_manifest(basis, verification_id, now),
                subject,
                now=now,
                recorded_as=self._recorded_as(caller, basis, verification_id, now),
            )
        except BaseException:
            if idempotency_key is not None:
                with self.engine.begin() as conn:
                    records.release_idempotency(conn, agency, idempotency_key)
            raise
        if idempotency_key is not None:
            body = json.dumps({"verification_id": verification_id, "response": row}, sort_keys=True)
            with self.engine.begin() as conn:
                records.finish_idempotency(conn, agency, idempotency_key, 200, body)
        return verification_id, row, False


def _verify_question(
    basis: records.StandingBasis, now: datetime
) -> tuple[tuple[str, str, dict[str, CedarValue]], dict[str, CedarValue]]:
    """The resource and context Cedar decides ``verify_subject`` on for ``basis`` at ``now``."""
    return basis_resource(basis.id, basis.agency), {"expired": basis.expires_at <= now}


def _agency_counts(raw: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """Counts in the agency's vocabulary: ambiguous is no_match, and only refusals carry a reason."""
    folded: dict[tuple[str, str], int] = {}
    for outcome, reason, n in raw:
        shown = Outcome.NO_MATCH.value if outcome == Outcome.AMBIGUOUS.value else outcome
        key = (shown, reason if shown == Outcome.REFUSED.value else "")
        folded[key] = folded.get(key, 0) + n
    return sorted(((o, r, n) for (o, r), n in folded.items()), key=lambda t: (-t[2], t[0], t[1]))


def _plain(text: str, column: str) -> str:
    cleaned = text.strip()
    if not cleaned or CONTROL.search(cleaned) or len(cleaned) > 200:
        raise UserInputError(
            f"{column} must be 1 to 200 characters without control characters",
            column=column,
            hint="give a plain name",
        )
    return cleaned


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_file_name(name: str) -> str:
    """The uploaded file's base name if it is a plain .csv or .parquet name; else ``BatchFileError``."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if not _SAFE_NAME.fullmatch(base) or not base.lower().endswith((".csv", ".parquet")):
        raise BatchFileError(
            f"the requests file name {base[:100]!r} is not accepted",
            column="requests",
            hint="name the file with letters, digits, '.', '_' or '-' only, ending in .csv or .parquet",
        )
    return base


def basis_manifest(basis: records.StandingBasis, verification_id: str, now: datetime) -> Manifest:
    """A standing basis as the manifest of a one-subject batch named ``verification_id``."""
    raw: dict[str, object] = {
        "batch_id": verification_id,
        "agency": basis.agency,
        "legal_basis": basis.legal_basis,
        "statutory_authority": basis.statutory_authority,
        "taxable_periods": list(basis.taxable_periods),
        "reason": basis.reason,
        "signed_by": {"name": basis.signer_name, "title": basis.signer_title},
        "submitted_at": now.isoformat(),
        "disclosure_profile": basis.disclosure_profile,
        "standing_basis": basis.id,
    }
    data = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return Manifest(
        batch_id=verification_id,
        agency=basis.agency,
        legal_basis=basis.legal_basis,
        statutory_authority=basis.statutory_authority,
        taxable_periods=basis.taxable_periods,
        reason=basis.reason,
        signed_by=Signer(basis.signer_name, basis.signer_title),
        submitted_at=now,
        disclosure_profile=basis.disclosure_profile,
        raw=raw,
        sha256=hashlib.sha256(data).hexdigest(),
    )


LEGAL_BASES: tuple[str, ...] = (I2, I1)
"""The legal bases a standing basis may cite."""
PROFILES: tuple[str, ...] = tuple(DISCLOSURE_PROFILES)
"""The disclosure profiles a standing basis may allow."""
