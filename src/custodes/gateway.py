"""The Gateway: the one object that wires the stages, and the only place that knows their order.

intake -> legal -> normalize -> link -> disclose -> account -> respond. The CLI and the
service are thin wrappers around it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
from sqlalchemy import inspect

from custodes.codes import Outcome, Reason
from custodes.config import Settings, load_settings
from custodes.contract import (
    DECISION_COLUMNS,
    Manifest,
    check_record_count,
    read_manifest,
    read_master,
    read_requests,
    write_decisions,
    write_response,
)
from custodes.contract.master import master_rows_hint
from custodes.disclose import ADDRESS_COLUMNS, ADDRESS_OF_RECORD, response_digests, response_frame
from custodes.errors import DuplicateBatchError, StoreError, UserInputError
from custodes.groups import GroupRunner
from custodes.ledger import DecisionColumns, DecisionEntry, LedgerKeys, append_batch, create_keys, load_keys
from custodes.ledger.keys import LedgerKeysExistError, LedgerKeysMissingError
from custodes.legal import check_batch
from custodes.legal.subjects import check_subjects
from custodes.link import DuckDBLinker, IndexSummary, build_index
from custodes.link.index import LoadProgress
from custodes.link.online import OnlineMatcher, subjects_frame
from custodes.store import connect, upgrade
from custodes.store.records import batch_exists, record_batch, record_master_load

Progress = Callable[[str], None]

_PERSON_COLUMNS = ("first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip", "tin")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class BatchResult:
    """What one verified batch produced."""

    batch_id: str
    agency: str
    requests: int
    counts: dict[tuple[str, str], int]
    response_path: Path
    decisions_path: Path
    batch_reason: str | None
    checkpoint: str | None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class OnlineRequest:
    """One online subject waiting for its group: its manifest, and the time of decision if given.

    Without a time, the subject is decided (and its legal elements judged) at the moment its
    group is decided, which lets a group judge each manifest once.
    """

    manifest: Manifest
    subject: Mapping[str, object]
    now: datetime | None


class Gateway:
    """custodes as one object: store, matching index, policies and the accounting log."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine = connect(settings.store_url)
        self._online_lock = threading.Lock()
        self._ledger_lock = threading.Lock()
        self._matcher: OnlineMatcher | None = None
        self._online_runner: GroupRunner[OnlineRequest, dict[str, object]] | None = None

    def close(self) -> None:
        """Finish online requests in flight, then release database connections."""
        with self._online_lock:
            runner, self._online_runner = self._online_runner, None
        if runner is not None:
            runner.close()
        self._engine.dispose()

    # -- setup -------------------------------------------------------------------------
    def init(self) -> list[str]:
        """Create the home directory, the store schema and the ledger keys; idempotent."""
        done = []
        self.settings.home.mkdir(parents=True, exist_ok=True)
        upgrade(self.settings.store_url)
        done.append(f"store ready at {self._describe_store()}")
        try:
            create_keys(self.settings.home, self.settings.log_origin)
            done.append(f"created signing key and custodian secret under {self.settings.home}")
        except LedgerKeysExistError:
            done.append("signing key and custodian secret already exist (kept)")
        return done

    def _describe_store(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def _keys(self) -> LedgerKeys:
        try:
            return load_keys(self.settings.home, self.settings.log_origin)
        except LedgerKeysMissingError as exc:
            raise StoreError(f"no ledger keys under {self.settings.home}: run `custodes init` first") from exc

    # -- master ------------------------------------------------------------------------
    def load_master(self, path: Path, *, progress: LoadProgress | None = None) -> IndexSummary:
        """Build the matching index from a master file, replacing the previous index atomically."""
        self._require_store()
        summary = build_index(
            read_master(path),
            self.settings.index_path,
            rows_hint=master_rows_hint(path),
            progress=progress,
            max_block_size=self.settings.linkage.max_block_size,
        )
        with self._engine.begin() as conn:
            record_master_load(
                conn,
                source=str(path),
                source_sha256=_sha256_file(path),
                rows=summary.rows,
                taxpayers=summary.taxpayers,
                at=datetime.now(UTC),
            )
        return summary

    def _require_store(self) -> None:
        url = self._engine.url
        missing_file = url.get_backend_name() == "sqlite" and not Path(url.database or "").exists()
        if missing_file or not inspect(self._engine).has_table("batches"):
            raise StoreError(f"no custodes store at {self._describe_store()}: run `custodes init` first")

    # -- verification --------------------------------------------------------------------
    def verify_batch(
        self,
        requests_path: Path,
        manifest_path: Path,
        out_dir: Path,
        *,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> BatchResult:
        """Run a whole batch through every stage and write the response and decisions.

        Input errors (exit code 2) are raised before anything is written. The batch, its
        decisions and its accounting entries are committed in one transaction, and the
        output files are moved into place only after that commit.
        """
        say = progress or (lambda _msg: None)
        now = now or datetime.now(UTC)
        self._require_store()
        say("reading the manifest and the batch")
        manifest = read_manifest(manifest_path)
        frame = read_requests(requests_path)
        check_record_count(manifest, requests_path, frame)
        with self._engine.connect() as conn:
            if batch_exists(conn, manifest.agency, manifest.batch_id):
                raise DuplicateBatchError(
                    f"batch_id {manifest.batch_id!r} was already submitted by {manifest.agency}",
                    file=str(manifest_path),
                    column="batch_id",
                    hint="batches are never merged or replaced: submit new requests under a new batch_id",
                )

        say("checking the legal basis of the batch")
        verdict = check_batch(manifest, self.settings, now, frame.height)
        basis = self.settings.bases.get(manifest.legal_basis)
        if not verdict.allowed or basis is None:
            reason = verdict.reason or Reason.INVALID_LEGAL_BASIS
            decisions = self._refuse_all(frame, reason)
            batch_reason: str | None = reason.value
        else:
            batch_reason = None
            say("checking each subject's legal elements")
            subject_reasons = check_subjects(frame, basis)
            decisions = self._link(frame, subject_reasons, now=now, progress=say)

        say("shaping the response")
        addresses = None
        if manifest.disclosure_profile == ADDRESS_OF_RECORD and batch_reason is None:
            addresses = self._addresses_of_record(decisions)
        response = response_frame(decisions, manifest.disclosure_profile, addresses)
        decisions = decisions.with_columns(response_digests(response))
        return self._commit(
            manifest=manifest,
            requests_path=requests_path,
            frame=frame,
            decisions=decisions,
            response=response,
            batch_reason=batch_reason,
            out_dir=out_dir,
            now=now,
            say=say,
        )

    # -- online verification ---------------------------------------------------------------
    def online_matcher(self) -> OnlineMatcher:
        """The matcher for single subjects, loaded from the matching index once per Gateway."""
        with self._online_lock:
            if self._matcher is None:
                self._matcher = OnlineMatcher.open(self.settings)
            return self._matcher

    def verify_subject(
        self, manifest: Manifest, subject: Mapping[str, object], *, now: datetime | None = None
    ) -> dict[str, object]:
        """One subject through every stage, as one row of a batch would go; returns its response row.

        ``subject`` holds the request columns of contract/batch-verification.md
        (``request_id`` required). The answer comes back only after the decision's
        accounting entry is committed; requests arriving together share one transaction
        (``custodes.groups``).
        """
        request_id = subject.get("request_id")
        if not isinstance(request_id, str) or not request_id.strip():
            raise UserInputError(
                "an online subject needs a request_id",
                column="request_id",
                hint="give each subject a unique id",
            )
        with self._online_lock:
            if self._online_runner is None:
                self._require_store()
                self._online_runner = GroupRunner(self._verify_group)
            runner = self._online_runner
        return runner.run(OnlineRequest(manifest, subject, now))

    def _verify_group(self, requests: Sequence[OnlineRequest]) -> list[dict[str, object] | BaseException]:
        """Decide, shape and account a group of online subjects in one transaction."""
        decided_at = datetime.now(UTC)
        times = [r.now or decided_at for r in requests]
        frame = subjects_frame([r.subject for r in requests]).with_row_index("row_number", offset=1)
        refusals: list[str | None] = [None] * len(requests)
        by_basis: dict[str, list[int]] = {}
        verdicts: dict[tuple[int, datetime], str | None] = {}
        for i, request in enumerate(requests):
            # the manifest's own elements, judged at this request's time, as for a batch of one
            seen = (id(request.manifest), times[i])
            if seen not in verdicts:
                verdict = check_batch(request.manifest, self.settings, times[i], 1)
                allowed = verdict.allowed and request.manifest.legal_basis in self.settings.bases
                verdicts[seen] = None if allowed else (verdict.reason or Reason.INVALID_LEGAL_BASIS).value
            refusals[i] = verdicts[seen]
            if refusals[i] is None:
                by_basis.setdefault(request.manifest.legal_basis, []).append(i)
        for name, members in by_basis.items():
            # the per-subject elements, vectorised over the group as over a batch
            reasons = check_subjects(frame[members], self.settings.bases[name]).to_list()
            for i, reason in zip(members, reasons, strict=True):
                refusals[i] = reason
        eligible = frame.filter(pl.Series([r is None for r in refusals]))
        decided = {}
        if eligible.height:
            today = max(times).date()
            linked = self.online_matcher().decide(
                eligible.select(pl.col("row_number").cast(pl.Int64).alias("rid"), *_PERSON_COLUMNS),
                today=today,
            )
            decided = {row["rid"]: row for row in linked.iter_rows(named=True)}
        rows = []
        for i, (request, refusal) in enumerate(zip(requests, refusals, strict=True)):
            row = decided.get(i + 1)
            rows.append(
                {
                    "request_id": frame["request_id"][i],
                    "outcome": Outcome.REFUSED.value if refusal else row["outcome"] if row else None,
                    "reason": refusal or (row["reason"] if row else None),
                    "tin": None if refusal or row is None else row["tin"],
                    "match_probability": None if refusal or row is None else row["match_probability"],
                    "address_status": None if refusal or row is None else row["address_status"],
                    "_profile": request.manifest.disclosure_profile,
                }
            )
        decisions = pl.DataFrame(
            rows,
            schema={
                **dict.fromkeys(DECISION_COLUMNS, pl.Utf8),
                "match_probability": pl.Float64,
                "_profile": pl.Utf8,
            },
        )
        responses: list[dict[str, object] | BaseException] = [{} for _ in requests]
        digests: list[str] = [""] * len(requests)
        for profile in decisions["_profile"].unique(maintain_order=True).to_list():
            part = decisions.with_row_index("_i").filter(pl.col("_profile") == profile)
            addresses = None
            if profile == ADDRESS_OF_RECORD:
                matcher = self.online_matcher()
                tins = [t for t in part["tin"].to_list() if t is not None]
                addresses = pl.DataFrame(
                    [{"tin": t, **matcher.address_of_record(t)} for t in tins],
                    schema={"tin": pl.Utf8, **dict.fromkeys(ADDRESS_COLUMNS, pl.Utf8)},
                )
            shaped = response_frame(part.drop("_i", "_profile"), profile, addresses)
            for i, response, digest in zip(
                part["_i"].to_list(), shaped.to_dicts(), response_digests(shaped).to_list(), strict=True
            ):
                responses[i], digests[i] = response, digest
        self._account_online(requests, times, decisions, digests)
        return responses

    def _account_online(
        self,
        requests: Sequence[OnlineRequest],
        times: list[datetime],
        decisions: pl.DataFrame,
        digests: list[str],
    ) -> None:
        """Append the group's decisions to the log in one durable transaction (one seal per batch_id)."""
        if not self.settings.accounting:
            return
        keys = self._keys()
        by_batch: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            by_batch.setdefault(request.manifest.batch_id, []).append(i)
        rows = decisions.to_dicts()
        # groups are decided in parallel but appended one at a time: the log has one head
        with self._ledger_lock, self._engine.begin() as conn:
            for members in by_batch.values():
                first = requests[members[0]]
                entry = {**self._batch_entry(first.manifest, None, times[members[0]]), "kind": "online"}
                append_batch(
                    conn,
                    keys,
                    entry,
                    [
                        DecisionEntry(
                            batch_id=requests[i].manifest.batch_id,
                            request_id=rows[i]["request_id"],
                            agency=requests[i].manifest.agency,
                            basis=requests[i].manifest.legal_basis,
                            outcome=rows[i]["outcome"],
                            reason=rows[i]["reason"],
                            profile=requests[i].manifest.disclosure_profile,
                            disclosed_sha256=digests[i],
                            tin=rows[i]["tin"],
                            at=times[i],
                        )
                        for i in members
                    ],
                )

    def _refuse_all(self, frame: pl.DataFrame, reason: Reason) -> pl.DataFrame:
        return frame.select(
            "request_id",
            pl.lit(Outcome.REFUSED.value).alias("outcome"),
            pl.lit(reason.value).alias("reason"),
            pl.lit(None, pl.Utf8).alias("tin"),
            pl.lit(None, pl.Float64).alias("match_probability"),
            pl.lit(None, pl.Utf8).alias("address_status"),
        )

    def _link(
        self, frame: pl.DataFrame, subject_reasons: pl.Series, *, now: datetime, progress: Progress
    ) -> pl.DataFrame:
        checked = frame.with_columns(subject_reasons.alias("_refusal"))
        eligible = checked.filter(pl.col("_refusal").is_null())
        linker = DuckDBLinker(self.settings.index_path, self.settings.linkage)
        try:
            result = linker.link(eligible.rename({"row_number": "rid"}), today=now.date(), progress=progress)
        finally:
            linker.close()
        linked = result.decisions.rename({"rid": "row_number"})
        return (
            checked.select("row_number", "request_id", "_refusal")
            .join(linked, on="row_number", how="left")
            .sort("row_number")
            .select(
                "request_id",
                pl.when(pl.col("_refusal").is_not_null())
                .then(pl.lit(Outcome.REFUSED.value))
                .otherwise(pl.col("outcome"))
                .alias("outcome"),
                pl.coalesce("_refusal", "reason").alias("reason"),
                "tin",
                "match_probability",
                "address_status",
            )
        )

    def _addresses_of_record(self, decisions: pl.DataFrame) -> pl.DataFrame:
        tins = decisions.filter(pl.col("outcome") == Outcome.MATCH.value).select("tin")
        con = duckdb.connect(str(self.settings.index_path), read_only=True)
        try:
            con.register("wanted", tins.to_arrow())
            frame: pl.DataFrame = con.sql(
                f"SELECT p.tin, {', '.join('p.' + c for c in ADDRESS_COLUMNS)} "  # noqa: S608
                "FROM persons p JOIN wanted w ON w.tin = p.tin"
            ).pl()
        finally:
            con.close()
        return frame

    def _commit(
        self,
        *,
        manifest: Manifest,
        requests_path: Path,
        frame: pl.DataFrame,
        decisions: pl.DataFrame,
        response: pl.DataFrame,
        batch_reason: str | None,
        out_dir: Path,
        now: datetime,
        say: Progress,
    ) -> BatchResult:
        out_dir.mkdir(parents=True, exist_ok=True)
        response_path = out_dir / "response.csv"
        decisions_path = out_dir / "decisions.parquet"
        tmp_response = out_dir / f".response.csv.tmp-{os.getpid()}"
        tmp_decisions = out_dir / f".decisions.parquet.tmp-{os.getpid()}"
        write_response(response, tmp_response)
        write_decisions(decisions.select(DECISION_COLUMNS), tmp_decisions)
        checkpoint = None
        try:
            say("recording the batch and its accounting")
            keys = self._keys() if self.settings.accounting else None
            with self._engine.begin() as conn:
                record_batch(
                    conn,
                    batch_id=manifest.batch_id,
                    agency=manifest.agency,
                    legal_basis=manifest.legal_basis,
                    manifest_json=json.dumps(manifest.raw, sort_keys=True),
                    manifest_sha256=manifest.sha256,
                    requests_sha256=_sha256_file(requests_path),
                    request_rows=frame,
                    decision_rows=decisions,
                    batch_reason=batch_reason,
                    received_at=now,
                    completed_at=datetime.now(UTC),
                )
                if keys is not None:
                    signed = append_batch(
                        conn,
                        keys,
                        self._batch_entry(manifest, batch_reason, now),
                        self._entries(manifest, decisions, now),
                    )
                    checkpoint = signed.note
        except BaseException:
            tmp_response.unlink(missing_ok=True)
            tmp_decisions.unlink(missing_ok=True)
            raise
        os.replace(tmp_response, response_path)
        os.replace(tmp_decisions, decisions_path)
        counts = decisions.group_by("outcome", "reason").len()
        return BatchResult(
            batch_id=manifest.batch_id,
            agency=manifest.agency,
            requests=frame.height,
            counts={(o, r): n for o, r, n in counts.iter_rows()},
            response_path=response_path,
            decisions_path=decisions_path,
            batch_reason=batch_reason,
            checkpoint=checkpoint,
        )

    @staticmethod
    def _batch_entry(manifest: Manifest, batch_reason: str | None, now: datetime) -> dict[str, object]:
        return {
            "kind": "batch",
            "batch_id": manifest.batch_id,
            "agency": manifest.agency,
            "basis": manifest.legal_basis,
            "statutory_authority": manifest.statutory_authority,
            "manifest_sha256": manifest.sha256,
            "signer": {"name": manifest.signed_by.name, "title": manifest.signed_by.title},
            "profile": manifest.disclosure_profile,
            "batch_reason": batch_reason,
            "at": now.isoformat(),
        }

    @staticmethod
    def _entries(manifest: Manifest, decisions: pl.DataFrame, now: datetime) -> DecisionColumns:
        return DecisionColumns(
            batch_id=manifest.batch_id,
            agency=manifest.agency,
            basis=manifest.legal_basis,
            profile=manifest.disclosure_profile,
            at=now,
            request_ids=decisions.get_column("request_id").to_list(),
            outcomes=decisions.get_column("outcome").to_list(),
            reasons=decisions.get_column("reason").to_list(),
            disclosed_sha256=decisions.get_column("response_sha256").to_list(),
            tins=decisions.get_column("tin").to_list(),
        )


def open_gateway(settings: Settings | None = None) -> Gateway:
    """A Gateway on the given settings, or on those read from the environment."""
    return Gateway(settings or load_settings())
