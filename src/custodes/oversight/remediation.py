"""Remediation: replay past batches under a corrected policy and account for what went wrong.

**Replay** takes a batch's stored inputs (the request rows exactly as received and the
manifest, both kept by the store) and decides them again with ``Gateway.decide_batch``
under a stored policy version, at the batch's own time of receipt (so a court order's
expiry and ages are judged as they were), against the current matching index. Only the
past disclosures (outcome ``match``) are decided again: a finding is about a disclosure,
and a row that disclosed nothing cannot be one. The batch's legal elements are judged on
its whole count of subjects, and the matcher's model comes from the index alone (fixed m,
u measured at master load), so a row's decision does not depend on which other rows are
decided with it (``tests/oversight/test_remediation.py`` holds the replay of the
disclosures alone equal to a decision on the whole batch). Only the corrected rule or
threshold, or a new master, changes an outcome. Query
budgets and suspensions are not re-applied: the question is whether the disclosure was
lawful and right, not what the agency's quota is today. The original decisions are taken
from the accounting log (the batch's sealed range) and held to the store's copy: a
disagreement stops the remediation.

A **finding** is a past disclosure (outcome ``match``) that the replay would not make: it
is refused, not matched, or matched to a different taxpayer. Each is an act of
unauthorised disclosure about the originally matched taxpayer, to the receiving agency;
the exposure is ``damages_per_act`` (by default $1,000, the 26 USC 7431(c) minimum) per act.

**It never edits the past.** Findings go into their own table, and the remediation itself
(scope, policy version, counts, exposure and a digest of the findings) is appended to the
accounting log as a ``remediation`` event.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, insert, select, update

from custodes.codes import Outcome
from custodes.contract import Manifest, read_manifest
from custodes.errors import LedgerError, UserInputError
from custodes.gateway import Gateway
from custodes.ledger import LedgerKeys, append_event, commitment
from custodes.ledger import store as ledger_store
from custodes.ledger.accounting import batch_key
from custodes.oversight.policy import batch_policy, current_master_sha256, load_policy
from custodes.oversight.tables import findings, remediations
from custodes.store.bulk import bulk_insert
from custodes.store.records import REQUEST_FIELDS
from custodes.store.schema import batches, decisions, requests

Progress = Callable[[str], None]
MAX_LISTED_BATCHES = 100
"""Batches named one by one in the log entry; beyond this only their count and digest."""


def mask_tin(tin: str | None) -> str:
    """``***-**-1234``: the form in which a TIN appears in anything a person reads."""
    if not tin:
        return ""
    digits = "".join(c for c in tin if c.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "***-**-****"


@dataclass(frozen=True)
class StoredBatch:
    """A batch as the store holds it."""

    pk: int
    agency: str
    batch_id: str
    legal_basis: str
    status: str
    manifest_json: str
    received_at: datetime
    batch_reason: str | None


@dataclass(frozen=True)
class BatchReplay:
    """What the replay of one batch found."""

    agency: str
    batch_id: str
    legal_basis: str
    original_policy: str | None
    master_changed: bool
    replayed: int
    disclosures: int
    affected: int
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds by stage: reading the stored rows, the log cross-check, deciding."""


@dataclass
class Remediation:
    """A remediation run: its scope, the policy it replayed under, and every finding."""

    scope: str
    policy_version: str
    run_at: datetime
    damages_per_act: int
    batches: list[BatchReplay] = field(default_factory=list)
    findings: pl.DataFrame = field(default_factory=pl.DataFrame)
    id: int | None = None
    ledger_index: int | None = None

    @property
    def replayed(self) -> int:
        """Requests replayed."""
        return sum(b.replayed for b in self.batches)

    @property
    def disclosures(self) -> int:
        """Past disclosures among them."""
        return sum(b.disclosures for b in self.batches)

    @property
    def affected(self) -> int:
        """Past disclosures the corrected policy would not make."""
        return self.findings.height

    @property
    def exposure_usd(self) -> int:
        """Civil exposure at the statutory minimum per act."""
        return self.affected * self.damages_per_act

    def findings_sha256(self) -> str:
        """SHA-256 of the findings (agency, batch, request, replay outcome and reason; no TIN)."""
        lines = sorted(
            "\t".join(str(v) for v in row)
            for row in self.findings.select(
                "agency", "batch_id", "request_id", "replay_outcome", "replay_reason"
            ).iter_rows()
        ) if self.affected else []  # fmt: skip
        return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()

    def summary(self) -> dict[str, Any]:
        """The run as JSON values (findings masked)."""
        return {
            "remediation_id": self.id,
            "scope": self.scope,
            "policy_version": self.policy_version,
            "run_at": self.run_at.isoformat(),
            "replayed": self.replayed,
            "disclosures": self.disclosures,
            "affected": self.affected,
            "damages_per_act_usd": self.damages_per_act,
            "exposure_usd": self.exposure_usd,
            "findings_sha256": self.findings_sha256(),
            "ledger_index": self.ledger_index,
            "batches": [{k: v for k, v in b.__dict__.items() if k != "seconds"} for b in self.batches],
        }


class _Clock:
    """Wall seconds between laps, by name."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._at = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._at, 3)
        self._at = now


def select_batches(
    conn: Connection, *, batch_id: str | None, agency: str | None, since: datetime | None
) -> list[StoredBatch]:
    """The stored batches a remediation covers: one batch, or every batch since a date."""
    if (batch_id is None) == (since is None):
        raise UserInputError(
            "name exactly one of --batch and --since",
            column="--batch/--since",
            hint="e.g. --batch DHS-2025-0001",
        )
    query = select(
        batches.c.id, batches.c.agency, batches.c.batch_id, batches.c.legal_basis, batches.c.status,
        batches.c.manifest_json, batches.c.received_at, batches.c.batch_reason,
    ).order_by(batches.c.received_at, batches.c.id)  # fmt: skip
    if batch_id is not None:
        query = query.where(batches.c.batch_id == batch_id)
    if since is not None:
        query = query.where(batches.c.received_at >= since)
    if agency is not None:
        query = query.where(batches.c.agency == agency)
    found = [StoredBatch(*row) for row in conn.execute(query).all()]
    if batch_id is not None and not found:
        raise UserInputError(
            f"no stored batch {batch_id!r}", column="--batch", hint="see `custodes report aggregate`"
        )
    if batch_id is not None and len(found) > 1:
        raise UserInputError(
            f"batch id {batch_id!r} was used by {sorted(b.agency for b in found)}",
            column="--agency",
            hint="name the agency with --agency",
        )
    return found


def stored_requests(conn: Connection, batch_pk: int) -> pl.DataFrame:
    """A batch's request rows exactly as received, in row order (the shape read_requests gives)."""
    columns = [requests.c.row_number, *(requests.c[name] for name in REQUEST_FIELDS)]
    rows = conn.execute(
        select(*columns).where(requests.c.batch_pk == batch_pk).order_by(requests.c.row_number)
    )
    schema = {"row_number": pl.Int64, **dict.fromkeys(REQUEST_FIELDS, pl.Utf8)}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def stored_decisions(conn: Connection, batch_pk: int) -> pl.DataFrame:
    """A batch's stored decisions: request_id, outcome, reason, tin."""
    rows = conn.execute(
        select(decisions.c.request_id, decisions.c.outcome, decisions.c.reason, decisions.c.tin).where(
            decisions.c.batch_pk == batch_pk
        )
    )
    schema = dict.fromkeys(("request_id", "outcome", "reason", "tin"), pl.Utf8)
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def ledger_decisions(conn: Connection, batch: StoredBatch) -> list[dict[str, Any]]:
    """The batch's decision entries as the accounting log holds them (its sealed range)."""
    size = ledger_store.head_size(conn)
    for _, data in ledger_store.indexed_entries(conn, batch_key(batch.batch_id), size):
        seal = json.loads(data)
        if (
            seal.get("type") == "batch"
            and seal.get("batch_id") == batch.batch_id
            and seal.get("agency") == batch.agency
        ):
            first, count = int(seal["first_index"]), int(seal["decisions"])
            return [json.loads(d) for _, d in ledger_store.entry_range(conn, first, first + count)]
    raise LedgerError(
        f"the accounting log holds no sealed batch {batch.batch_id!r} of {batch.agency}: it cannot be "
        "remediated from the log (was it decided with accounting off?)"
    )


def _check_against_ledger(
    stored: pl.DataFrame, logged: list[dict[str, Any]], keys: LedgerKeys, batch: StoredBatch
) -> None:
    by_request = {e["request_id"]: e for e in logged}
    if len(by_request) != stored.height:
        raise LedgerError(
            f"batch {batch.batch_id!r}: the store holds {stored.height} decisions, the log {len(by_request)}"
        )
    for request_id, outcome, reason, tin in stored.iter_rows():
        entry = by_request.get(request_id)
        taxpayer = None if tin is None else commitment(keys.custodian_secret, tin).hex()
        if entry is None or (entry["outcome"], entry["reason"], entry["taxpayer"]) != (
            outcome,
            reason,
            taxpayer,
        ):
            raise LedgerError(
                f"batch {batch.batch_id!r}, request {request_id!r}: the stored decision differs from the "
                "accounting log; run `custodes ledger audit` and investigate before remediating"
            )


def stored_manifest(batch: StoredBatch) -> Manifest:
    """The batch's manifest, read back from the JSON the store kept."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.json"
        path.write_text(batch.manifest_json, encoding="utf-8")
        return read_manifest(path)


def replay(
    gateway: Gateway,
    conn: Connection,
    *,
    policy: str,
    batch_id: str | None = None,
    agency: str | None = None,
    since: datetime | None = None,
    now: datetime,
    keys: LedgerKeys | None,
    progress: Progress | None = None,
) -> Remediation:
    """Replay the batches in scope under ``policy`` and collect the findings; writes nothing."""
    say = progress or (lambda _m: None)
    version, settings = load_policy(conn, gateway.settings, policy)
    scope = f"batch {batch_id}" if batch_id is not None else f"since {since.isoformat() if since else ''}"
    if agency is not None:
        scope += f" of {agency}"
    run = Remediation(scope, version, now, gateway.settings.oversight.damages_per_act)
    master = current_master_sha256(conn)
    found: list[pl.DataFrame] = []
    for batch in select_batches(conn, batch_id=batch_id, agency=agency, since=since):
        say(f"replaying {batch.batch_id} of {batch.agency}")
        clock = _Clock()
        original = stored_decisions(conn, batch.pk)
        frame = stored_requests(conn, batch.pk)
        clock.lap("read")
        if keys is not None:
            _check_against_ledger(original, ledger_decisions(conn, batch), keys, batch)
        clock.lap("ledger_check")
        disclosed_ids = original.filter(pl.col("outcome") == Outcome.MATCH.value).select("request_id")
        again = frame.join(disclosed_ids, on="request_id", how="semi")
        if again.is_empty():
            decided = pl.DataFrame(schema=dict.fromkeys(("request_id", "outcome", "reason", "tin"), pl.Utf8))
        else:
            # the batch's elements are judged on all its subjects, as when it was decided
            decided, _ = gateway.decide_batch(
                stored_manifest(batch), again, now=batch.received_at, settings=settings,
                subject_count=frame.height,
            )  # fmt: skip
        clock.lap("decide")
        recorded = batch_policy(conn, batch.agency, batch.batch_id)
        compared = original.join(
            decided.select("request_id", pl.col("outcome").alias("replay_outcome"),
                           pl.col("reason").alias("replay_reason"), pl.col("tin").alias("replay_tin")),
            on="request_id", how="left",
        )  # fmt: skip
        disclosed = compared.filter(pl.col("outcome") == Outcome.MATCH.value)
        wrong = disclosed.filter(
            (pl.col("replay_outcome") != Outcome.MATCH.value) | (pl.col("replay_tin") != pl.col("tin"))
        )
        found.append(
            wrong.select(
                pl.lit(batch.agency).alias("agency"),
                pl.lit(batch.batch_id).alias("batch_id"),
                "request_id",
                "tin",
                pl.col("reason").alias("original_reason"),
                "replay_outcome",
                "replay_reason",
            )
        )
        run.batches.append(
            BatchReplay(
                agency=batch.agency,
                batch_id=batch.batch_id,
                legal_basis=batch.legal_basis,
                original_policy=None if recorded is None else recorded[0],
                master_changed=recorded is not None and recorded[1] != master,
                replayed=frame.height,
                disclosures=disclosed.height,
                affected=wrong.height,
                seconds=clock.laps,
            )
        )
    schema = dict.fromkeys(
        ("agency", "batch_id", "request_id", "tin", "original_reason", "replay_outcome", "replay_reason"),
        pl.Utf8,
    )
    run.findings = pl.concat(found) if found else pl.DataFrame(schema=schema)
    run.findings = run.findings.sort("agency", "batch_id", "request_id")
    return run


def record_remediation(conn: Connection, keys: LedgerKeys | None, run: Remediation) -> Remediation:
    """Store the run and its findings and append it to the accounting log; in the caller's transaction."""
    pk = conn.execute(
        insert(remediations).values(
            scope=run.scope,
            policy_version=run.policy_version,
            run_at=run.run_at,
            replayed=run.replayed,
            disclosures=run.disclosures,
            affected=run.affected,
            exposure_usd=run.exposure_usd,
            findings_sha256=run.findings_sha256(),
        )
    ).inserted_primary_key
    assert pk is not None
    run.id = int(pk[0])
    rows = run.findings.with_columns(pl.lit(run.id).alias("remediation_id"))
    bulk_insert(conn, findings, rows)
    if keys is not None:
        listed = [{"agency": b.agency, "batch_id": b.batch_id, "affected": b.affected} for b in run.batches]
        digest = hashlib.sha256(json.dumps(listed, sort_keys=True).encode()).hexdigest()
        entry = {
            "event": "remediation",
            "remediation_id": run.id,
            "scope": run.scope,
            "policy_version": run.policy_version,
            "replayed": run.replayed,
            "disclosures": run.disclosures,
            "affected": run.affected,
            "exposure_usd": run.exposure_usd,
            "findings_sha256": run.findings_sha256(),
            "batch_count": len(listed),
            "batches_sha256": digest,
            "batches": listed if len(listed) <= MAX_LISTED_BATCHES else None,
            "at": run.run_at,
        }
        run.ledger_index = append_event(conn, keys, entry).size - 1
        conn.execute(
            update(remediations).where(remediations.c.id == run.id).values(ledger_index=run.ledger_index)
        )
    return run


def findings_about(conn: Connection, tin: str) -> list[dict[str, Any]]:
    """Every remediation finding about one taxpayer, with the run's policy and log index."""
    rows = conn.execute(
        select(
            findings.c.agency, findings.c.batch_id, findings.c.request_id, findings.c.original_reason,
            findings.c.replay_outcome, findings.c.replay_reason, remediations.c.id,
            remediations.c.policy_version, remediations.c.run_at, remediations.c.ledger_index,
        )
        .join(remediations, remediations.c.id == findings.c.remediation_id)
        .where(findings.c.tin == tin)
        .order_by(remediations.c.id, findings.c.batch_id, findings.c.request_id)
    ).all()  # fmt: skip
    names = ("agency", "batch_id", "request_id", "original_reason", "replay_outcome", "replay_reason",
             "remediation_id", "policy_version", "run_at", "ledger_index")  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]
