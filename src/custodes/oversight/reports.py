"""The oversight reports as data: per taxpayer, in aggregate for a period, and per batch.

Each function returns plain JSON-ready values, so a CLI command or an HTTP route is a thin
call followed by a renderer (``custodes.oversight.render``: CSV, JSON, HTML). A TIN never
appears in clear: taxpayers are shown as ``***-**-1234`` and, in the log, as commitments.
"""

from __future__ import annotations

import base64
import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from custodes.codes import BATCH_REASONS, Outcome
from custodes.config import Settings
from custodes.errors import LedgerError, UserInputError
from custodes.ledger import LedgerKeys, accounting_for
from custodes.ledger import store as ledger_store
from custodes.ledger.accounting import batch_key
from custodes.ledger.verify import VerificationError, verify_inclusion_bundle
from custodes.legal import check_batch
from custodes.oversight.budgets import repeated_subjects
from custodes.oversight.policy import batch_policy, settings_with_policy, stored_policy_document
from custodes.oversight.remediation import (
    Remediation,
    StoredBatch,
    findings_about,
    mask_tin,
    select_batches,
    stored_manifest,
    stored_requests,
)
from custodes.oversight.suspension import list_suspensions
from custodes.oversight.tables import holds, remediations
from custodes.store.schema import batches, decisions

Report = dict[str, Any]
REVIEW_OUTCOMES = (Outcome.AMBIGUOUS.value, Outcome.REFUSED.value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- per taxpayer ------------------------------------------------------------------------
def taxpayer_report(conn: Connection, keys: LedgerKeys, tin: str) -> Report:
    """Every act about one taxpayer (6103(p)(3)(A)), each with its verified inclusion proof.

    Built on ``custodes.ledger.accounting_for``; each proof is checked here against the
    log's public key, and remediation findings about the taxpayer are added.
    """
    bundle = accounting_for(conn, keys, tin)
    acts = []
    for act in bundle["acts"]:  # type: ignore[attr-defined]
        entry = json.loads(base64.b64decode(act["entry_b64"]))
        try:
            verify_inclusion_bundle({**act, "checkpoint": bundle["checkpoint"]}, keys.verifier)
            verified = True
        except VerificationError:
            verified = False
        acts.append(
            {
                "leaf_index": act["leaf_index"],
                "at": entry.get("at"),
                "type": entry.get("event") if entry.get("type") == "event" else entry.get("type"),
                "agency": entry.get("agency"),
                "basis": entry.get("basis"),
                "batch_id": entry.get("batch_id"),
                "request_id": entry.get("request_id"),
                "outcome": entry.get("outcome"),
                "reason": entry.get("reason"),
                "profile": entry.get("profile"),
                "disclosed_sha256": entry.get("disclosed_sha256"),
                "proof_verified": verified,
                "inclusion_path": act["inclusion_path"],
                "entry_b64": act["entry_b64"],
            }
        )
    found = findings_about(conn, tin)
    return {
        "report": "taxpayer",
        "taxpayer": mask_tin(tin),
        "commitment": bundle["taxpayer"],
        "tree_size": bundle["tree_size"],
        "checkpoint": bundle["checkpoint"],
        "acts": acts,
        "disclosures": sum(1 for a in acts if a["outcome"] == Outcome.MATCH.value),
        "remediation_findings": [{**f, "run_at": _iso(f["run_at"])} for f in found],
    }


# -- aggregate ---------------------------------------------------------------------------
def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _breakdown(counts: Counter[str], total: int, refused: Counter[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "requests": n,
            "share": _share(n, total),
            "refused": refused[name],
            "refused_share": _share(refused[name], n),
        }
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _sealed_counts(conn: Connection, wanted: dict[int, tuple[str, str]]) -> dict[int, int | None]:
    size = ledger_store.head_size(conn)
    out: dict[int, int | None] = {}
    for pk, (agency, batch_id) in wanted.items():
        out[pk] = None
        for _, data in ledger_store.indexed_entries(conn, batch_key(batch_id), size):
            seal = json.loads(data)
            if (
                seal.get("type") == "batch"
                and seal.get("agency") == agency
                and seal.get("batch_id") == batch_id
            ):
                out[pk] = int(seal["decisions"])
    return out


def aggregate_report(conn: Connection, start: datetime, end: datetime, *, patterns: bool = True) -> Report:
    """Requests and outcomes received in [start, end) by agency, basis, statute, outcome and reason.

    Counts come from the store's decisions in one grouped query; each batch's count is held
    to the decision count its sealing entry in the accounting log states.
    """
    if end <= start:
        raise UserInputError("the period is empty", column="--to", hint="--to must be after --from")
    meta = {
        int(pk): (str(agency), str(basis), str(json.loads(manifest).get("statutory_authority", "")), str(bid))
        for pk, agency, basis, manifest, bid in conn.execute(
            select(
                batches.c.id,
                batches.c.agency,
                batches.c.legal_basis,
                batches.c.manifest_json,
                batches.c.batch_id,
            ).where(batches.c.received_at >= start, batches.c.received_at < end)
        )
    }
    grouped = conn.execute(
        select(decisions.c.batch_pk, decisions.c.outcome, decisions.c.reason, func.count())
        .where(
            decisions.c.batch_pk.in_(
                select(batches.c.id).where(batches.c.received_at >= start, batches.c.received_at < end)
            )
        )
        .group_by(decisions.c.batch_pk, decisions.c.outcome, decisions.c.reason)
    ).all()
    rows: Counter[tuple[str, str, str, str, str]] = Counter()
    per_batch: Counter[int] = Counter()
    for pk, outcome, reason, n in grouped:
        agency, basis, statute, _ = meta[int(pk)]
        rows[(agency, basis, statute, str(outcome), str(reason))] += int(n)
        per_batch[int(pk)] += int(n)
    total = sum(rows.values())
    dims: dict[str, Counter[str]] = defaultdict(Counter)
    refused: dict[str, Counter[str]] = defaultdict(Counter)
    for (agency, basis, statute, outcome, reason), n in rows.items():
        for dim, value in (("agency", agency), ("basis", basis), ("statute", statute), ("outcome", outcome)):
            dims[dim][value] += n
            if outcome == Outcome.REFUSED.value:
                refused[dim][value] += n
        if outcome == Outcome.REFUSED.value:
            dims["reason"][reason] += n
    refused_total = dims["outcome"][Outcome.REFUSED.value]
    sealed = _sealed_counts(conn, {pk: (m[0], m[3]) for pk, m in meta.items()})
    mismatched = [
        {"agency": meta[pk][0], "batch_id": meta[pk][3], "stored": per_batch[pk], "sealed": sealed[pk]}
        for pk in sorted(meta)
        if sealed[pk] != per_batch[pk]
    ]
    report: Report = {
        "report": "aggregate",
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "batches": len(meta),
        "requests": total,
        "refused": refused_total,
        "refused_share": _share(refused_total, total),
        "disclosures": dims["outcome"][Outcome.MATCH.value],
        "by_agency": _breakdown(dims["agency"], total, refused["agency"]),
        "by_basis": _breakdown(dims["basis"], total, refused["basis"]),
        "by_statute": _breakdown(dims["statute"], total, refused["statute"]),
        "by_outcome": _breakdown(dims["outcome"], total, refused["outcome"]),
        "refusal_reasons": [
            {
                "reason": r,
                "requests": n,
                "share_of_refused": _share(n, refused_total),
                "share_of_all": _share(n, total),
                "scope": "batch" if r in {b.value for b in BATCH_REASONS} else "request",
            }
            for r, n in sorted(dims["reason"].items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "rows": [
            {"agency": a, "basis": b, "statute": s, "outcome": o, "reason": r, "requests": n}
            for (a, b, s, o, r), n in sorted(rows.items())
        ],
        "ledger_check": {"batches_checked": len(meta), "mismatched": mismatched},
        "suspensions": [
            {
                "id": s.id,
                "scope": s.scope,
                "reason": s.reason,
                "reference": s.reference,
                "suspended_at": _iso(s.suspended_at),
                "lifted_at": _iso(s.lifted_at),
                "ledger_index": s.ledger_index,
            }
            for s in list_suspensions(conn)
            if s.suspended_at < end and (s.lifted_at is None or s.lifted_at >= start)
        ],
        "remediations": [
            {
                "id": r.id,
                "scope": r.scope,
                "policy_version": r.policy_version,
                "run_at": _iso(r.run_at),
                "affected": r.affected,
                "exposure_usd": r.exposure_usd,
                "ledger_index": r.ledger_index,
            }
            for r in conn.execute(
                select(remediations).where(remediations.c.run_at >= start, remediations.c.run_at < end)
            )
        ],
    }
    if patterns:
        report["repeated_subjects"] = [
            {
                "agency": agency,
                "subject": p.subject,
                "queries": p.queries,
                "answered": p.answered,
                "refused": p.refused,
                "batches": list(p.batches),
                "request_ids": list(p.request_ids),
                "first_at": _iso(p.first_at),
                "last_at": _iso(p.last_at),
            }
            for agency in sorted(dims["agency"])
            for p in repeated_subjects(conn, agency, start, minimum=3)
            if p.first_at < end
        ]
    return report


# -- per batch ---------------------------------------------------------------------------
def _legal_checks(
    conn: Connection, settings: Settings, batch: StoredBatch, stored_reason: str | None
) -> list[dict[str, Any]]:
    recorded = batch_policy(conn, batch.agency, batch.batch_id)
    rules = (
        settings
        if recorded is None
        else settings_with_policy(settings, stored_policy_document(conn, recorded[0]))
    )
    manifest = stored_manifest(batch)
    suspended = {
        batch.legal_basis
        for s in list_suspensions(conn)
        if s.covers(batch.agency, batch.legal_basis)
        and s.suspended_at <= batch.received_at
        and (s.lifted_at is None or s.lifted_at > batch.received_at)
    }
    count = conn.execute(select(func.count()).where(decisions.c.batch_pk == batch.pk)).scalar_one()
    verdict = check_batch(manifest, rules, batch.received_at, int(count), suspended_bases=suspended)
    checks = [{"element": r.value, "passed": r not in verdict.reasons} for r in BATCH_REASONS]
    if (verdict.reason.value if verdict.reason else None) != stored_reason:
        checks.append({"element": "agrees_with_stored_decision", "passed": False})
    return checks


def batch_report(conn: Connection, settings: Settings, batch_id: str, agency: str | None = None) -> Report:
    """One batch: manifest, legal checks, outcome counts, and evidence on each ambiguous or refused row."""
    batch = select_batches(conn, batch_id=batch_id, agency=agency, since=None)[0]
    counts = conn.execute(
        select(decisions.c.outcome, decisions.c.reason, func.count())
        .where(decisions.c.batch_pk == batch.pk)
        .group_by(decisions.c.outcome, decisions.c.reason)
        .order_by(decisions.c.outcome, decisions.c.reason)
    ).all()
    decided = {
        str(r[0]): r[1:]
        for r in conn.execute(
            select(
                decisions.c.request_id, decisions.c.outcome, decisions.c.reason, decisions.c.match_probability
            ).where(decisions.c.batch_pk == batch.pk, decisions.c.outcome.in_(REVIEW_OUTCOMES))
        )
    }
    review = []
    if batch.batch_reason is None:
        for row in stored_requests(conn, batch.pk).iter_rows(named=True):
            found = decided.get(row["request_id"])
            if found is None:
                continue
            outcome, reason, probability = found
            review.append(
                {
                    "row_number": row["row_number"],
                    "request_id": row["request_id"],
                    "outcome": outcome,
                    "reason": reason,
                    "match_probability": probability,
                    **{
                        k: row[k]
                        for k in (
                            "first_name",
                            "middle_name",
                            "last_name",
                            "dob",
                            "street",
                            "city",
                            "state",
                            "zip",
                            "case_reference",
                        )
                    },
                    "tin": mask_tin(row["tin"]),
                }
            )
    recorded = batch_policy(conn, batch.agency, batch.batch_id)
    held = conn.execute(
        select(holds.c.suspension_id, holds.c.held_at, holds.c.lifted_at).where(
            holds.c.agency == batch.agency, holds.c.batch_id == batch.batch_id
        )
    ).all()
    total = sum(int(n) for _, _, n in counts)
    try:
        sealed = _sealed_counts(conn, {batch.pk: (batch.agency, batch.batch_id)})[batch.pk]
    except LedgerError:
        sealed = None
    return {
        "report": "batch",
        "agency": batch.agency,
        "batch_id": batch.batch_id,
        "status": batch.status,
        "received_at": _iso(batch.received_at),
        "policy_version": None if recorded is None else recorded[0],
        "master_sha256": None if recorded is None else recorded[1],
        "manifest": json.loads(batch.manifest_json),
        "batch_reason": batch.batch_reason,
        "legal_checks": _legal_checks(conn, settings, batch, batch.batch_reason),
        "requests": total,
        "sealed_in_log": sealed,
        "outcomes": [
            {"outcome": o, "reason": r, "requests": int(n), "share": _share(int(n), total)}
            for o, r, n in counts
        ],
        "holds": [
            {"suspension_id": s, "held_at": _iso(h), "lifted_at": _iso(lifted)} for s, h, lifted in held
        ],
        "review": review,
    }


# -- remediation and budgets -------------------------------------------------------------
def remediation_report(run: Remediation) -> Report:
    """A remediation run: every affected disclosure (TIN masked), per receiving agency, and the exposure."""
    per_agency: dict[str, dict[str, Any]] = {}
    for row in run.findings.iter_rows(named=True):
        entry = per_agency.setdefault(
            row["agency"], {"agency": row["agency"], "affected": 0, "taxpayers": set()}
        )
        entry["affected"] += 1
        entry["taxpayers"].add(row["tin"])
    by_agency = [
        {
            "agency": a["agency"],
            "affected": a["affected"],
            "taxpayers": len(a["taxpayers"]),
            "exposure_usd": a["affected"] * run.damages_per_act,
        }
        for a in sorted(per_agency.values(), key=lambda a: (-a["affected"], a["agency"]))
    ]
    return {
        "report": "remediation",
        **run.summary(),
        "taxpayers": run.findings["tin"].n_unique() if run.affected else 0,
        "by_agency": by_agency,
        "findings": [
            {**row, "tin": mask_tin(row["tin"]), "receiving_agency": row["agency"]}
            for row in run.findings.iter_rows(named=True)
        ],
    }


def budget_report(
    conn: Connection, settings: Settings, agency: str, since: datetime, minimum: int = 2
) -> Report:
    """Subjects an agency asked about at least ``minimum`` times since ``since`` (near-variants grouped)."""
    config = settings.budgets
    return {
        "report": "budget",
        "agency": agency,
        "since": since.isoformat(),
        "subject_limit": config.subject_limit,
        "window_days": config.window_days,
        "daily_cap": config.cap_for(agency),
        "repeated_subjects": [
            {
                "subject": p.subject,
                "queries": p.queries,
                "answered": p.answered,
                "refused": p.refused,
                "batches": list(p.batches),
                "request_ids": list(p.request_ids),
                "first_at": _iso(p.first_at),
                "last_at": _iso(p.last_at),
            }
            for p in repeated_subjects(conn, agency, since, minimum=minimum)
        ],
    }
