"""The Gateway: the one object that wires the stages, and the only place that knows their order.

intake -> legal -> normalize -> link -> disclose -> account -> respond. The CLI and the
service are thin wrappers around it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
from sqlalchemy import Connection, Engine, inspect

from custodes.codes import Outcome, Reason
from custodes.config import Settings, load_settings
from custodes.contract import (
    DECISION_COLUMNS,
    Manifest,
    check_record_count,
    read_manifest,
    read_master,
    read_master_whole,
    read_requests,
    subject_problem,
    subjects_frame,
    write_decisions,
    write_response,
)
from custodes.contract.master import master_rows_hint
from custodes.disclose import ADDRESS_COLUMNS, ADDRESS_OF_RECORD, response_digests, response_frame
from custodes.errors import DuplicateBatchError, StoreError
from custodes.frames import frame_of, with_series
from custodes.groups import GroupRunner
from custodes.ledger import (
    DecisionColumns,
    LedgerKeys,
    append_batch,
    append_batches,
    append_event,
    create_keys,
)
from custodes.ledger.keys import LedgerKeysExistError, LedgerKeysMissingError, load_keys_cached
from custodes.ledger.store import lock_head
from custodes.legal import check_batch
from custodes.legal.batch import agency_key
from custodes.legal.subjects import check_subjects
from custodes.link import DuckDBLinker, IndexSummary, build_index
from custodes.link.index import IN_MEMORY_ROWS, LoadProgress
from custodes.link.online import OnlineMatcher, has_online_tables
from custodes.link.prepare import prepare_people
from custodes.oversight.hooks import BatchOversight
from custodes.store import connect, upgrade
from custodes.store.engine import current_revision, head_revision, writer_turn
from custodes.store.records import (
    NewBatch,
    batch_exists,
    complete_batch,
    record_batch,
    record_batches,
    record_master_load,
    registered_agencies,
)

if TYPE_CHECKING:
    from custodes.service.decider import DeciderClient

Progress = Callable[[str], None]
Screen = Callable[[pl.DataFrame, pl.Series, pl.DataFrame | None], pl.Series]
"""Further refusals of eligible rows (the query budgets): the rows, their legal refusals, and
the eligible rows already prepared for linkage when the online engine decides them."""

SMALL_LINKED = 64
"""Up to this many request rows the online engine's decisions are joined to the refusals on
Python values (``Gateway._link_values``); the frame path is the definition."""
_DECISION_SCHEMA = {
    "request_id": pl.Utf8, "outcome": pl.Utf8, "reason": pl.Utf8, "tin": pl.Utf8,
    "match_probability": pl.Float64, "address_status": pl.Utf8,
}  # fmt: skip

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
    """One online subject waiting for its group: its basis, its columns and when it arrived."""

    basis: Manifest
    subject: Mapping[str, str | None]
    now: datetime
    recorded_as: Mapping[str, object] | None = None


@dataclass(frozen=True)
class _DecidedPart:
    frame: pl.DataFrame
    decisions: pl.DataFrame
    response: pl.DataFrame
    batch_reason: str | None
    oversight: BatchOversight


log = logging.getLogger("custodes.gateway")


class _BudgetsMoved(Exception):
    """Another writer changed an agency's query history since a group was screened."""


def _basis_key(basis: Manifest) -> tuple[object, ...]:
    """What subjects must share to be decided as one frame: every legal element but the batch id."""
    return (
        basis.agency, basis.legal_basis, basis.statutory_authority, basis.taxable_periods, basis.reason,
        basis.signed_by, basis.disclosure_profile, basis.raw.get("standing_basis"),
    )  # fmt: skip


class Gateway:
    """custodes as one object: store, matching index, policies and the accounting log."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine = connect(settings.store_url)
        self._store_checked = False
        self._online_lock = threading.Lock()
        self._ledger_lock = threading.Lock()
        self._matcher: tuple[tuple[int, int], OnlineMatcher | None] | None = None
        self._online_runner: GroupRunner[OnlineRequest, dict[str, object]] | None = None
        self._decider: DeciderClient | None = None
        self._agencies: tuple[str, ...] = ()
        """The registered agencies last read from the store (``_stored_agencies``)."""

    def close(self) -> None:
        """Finish the online verifications in flight, then release database connections."""
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
            return load_keys_cached(self.settings.home, self.settings.log_origin)
        except LedgerKeysMissingError as exc:
            raise StoreError(f"no ledger keys under {self.settings.home}: run `custodes init` first") from exc

    # -- master ------------------------------------------------------------------------
    def load_master(self, path: Path, *, progress: LoadProgress | None = None) -> IndexSummary:
        """Build the matching index from a master file, replacing the previous index atomically."""
        self._require_store()
        rows = master_rows_hint(path)
        # a master the load splits in memory anyway is read once, its rows checked in memory
        small = rows is not None and rows <= IN_MEMORY_ROWS
        summary = build_index(
            read_master_whole(path) if small else read_master(path),
            self.settings.index_path,
            rows_hint=rows,
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
        if self._store_checked:
            return
        url = self._engine.url
        missing_file = url.get_backend_name() == "sqlite" and not Path(url.database or "").exists()
        if missing_file or not inspect(self._engine).has_table("batches"):
            raise StoreError(f"no custodes store at {self._describe_store()}: run `custodes init` first")
        at, needed = current_revision(self._engine), head_revision()
        if at != needed:
            raise StoreError(
                f"the store at {self._describe_store()} has schema revision {at}, and this version of "
                f"custodes needs {needed}: run `custodes db upgrade` (or `custodes init`) first"
            )
        self._store_checked = True

    # -- verification --------------------------------------------------------------------
    def verify_batch(
        self,
        requests_path: Path,
        manifest_path: Path,
        out_dir: Path,
        *,
        now: datetime | None = None,
        progress: Progress | None = None,
        claimed: int | None = None,
    ) -> BatchResult:
        """Run a whole batch through every stage and write the response and decisions.

        Input errors (exit code 2) are raised before anything is written. The batch, its
        decisions and its accounting entries are committed in one transaction, and the
        output files are moved into place only after that commit. ``claimed`` is the store
        key of a batch the service received and a worker claimed (status ``processing``):
        its row is completed instead of a new one inserted.
        """
        say = progress or (lambda _msg: None)
        now = now or datetime.now(UTC)
        self._require_store()
        say("reading the manifest and the batch")
        manifest = read_manifest(manifest_path)
        frame = read_requests(requests_path)
        check_record_count(manifest, requests_path, frame)
        if claimed is None:
            with self._engine.connect() as conn:
                if batch_exists(conn, manifest.agency, manifest.batch_id):
                    raise DuplicateBatchError(
                        f"batch_id {manifest.batch_id!r} was already submitted by {manifest.agency}",
                        file=str(manifest_path),
                        column="batch_id",
                        hint="batches are never merged or replaced: submit new requests under a new batch_id",
                    )
        oversight = BatchOversight(self._engine, self.settings, manifest, now)
        decisions, response, batch_reason = self._decide(
            manifest, frame, now=now, say=say, oversight=oversight
        )
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
            claimed=claimed,
            oversight=oversight,
        )

    def verify_subject(
        self,
        basis: Manifest,
        subject: Mapping[str, str | None],
        *,
        now: datetime | None = None,
        recorded_as: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """Verify one subject online: the batch path (legal, link, disclose, account) on a one-row batch.

        The subject is linked by the online engine (``custodes.link.online``, the batch's
        decisions from in-memory lookup tables) when the index has its tables, else by the
        batch engine, which reads the same tables and so refuses such an index with a clear
        error (an index without them was built by an older custodes).

        ``basis`` holds the legal elements (a standing basis as a manifest; its ``batch_id``
        names this verification), ``subject`` the request columns. Returns the response row,
        exactly as a batch's ``response.csv`` row would read. The request, its decision and
        its accounting entries are committed before the row is returned; ``recorded_as`` sets
        the service's columns of the stored batch row.

        **Group commit.** Subjects that arrive together are decided together and committed
        in one transaction under one signed checkpoint (``custodes.groups``): subjects under
        the same basis form one frame through ``decide_batch``, so the budgets count them in
        arrival order exactly as consecutive requests; each is stored as its own one-row
        batch with its own ledger seal.
        """
        return self.submit_subject(basis, subject, now=now, recorded_as=recorded_as).result()

    def submit_subject(
        self,
        basis: Manifest,
        subject: Mapping[str, str | None],
        *,
        now: datetime | None = None,
        recorded_as: Mapping[str, object] | None = None,
    ) -> Future[dict[str, object]]:
        """``verify_subject`` without waiting: the future holds its response row (or its error)
        once the subject's group is committed. The service awaits it on its event loop
        instead of holding a worker thread for each verification in flight."""
        request = OnlineRequest(basis, subject, now or datetime.now(UTC), recorded_as)
        if self._decider is not None:
            return self._decider.submit(request)
        with self._online_lock:
            if self._online_runner is None:
                self._require_store()
                self._online_runner = GroupRunner(
                    self.verify_subjects, max_group=self.settings.service.online_max_group
                )
            runner = self._online_runner
        return runner.submit(request)

    def use_decider(self, decider: DeciderClient | None) -> None:
        """Send online subjects to a decider process (``custodes.service.decider``) instead of
        deciding them here; None: decide them here again. The decider runs this same method,
        ``submit_subject``, on its own Gateway: one code path, one matcher."""
        self._decider = decider

    def verify_subjects(self, requests: Sequence[OnlineRequest]) -> list[dict[str, object] | BaseException]:
        """Decide, shape and account online subjects together: one response row or error each, in order.

        Answers exactly as verifying them one after another in this order would (the budgets
        count earlier subjects of the group), but in one transaction and under one signed
        checkpoint. A subject that is no request row (an unknown field, a blank request_id)
        gets its error and the others are still answered; an error of the store fails them all,
        and nothing of the group is committed. ``verify_subject`` hands the subjects that
        arrive together to this method.
        """
        self._require_store()
        results: list[dict[str, object] | BaseException | None] = [None] * len(requests)
        parts: dict[tuple[object, ...], list[int]] = {}
        for i, request in enumerate(requests):
            results[i] = subject_problem(request.subject)
            if results[i] is None:
                parts.setdefault(_basis_key(request.basis), []).append(i)
        decided = [self._decide_part([requests[i] for i in members]) for members in parts.values()]
        groups = [[requests[i] for i in members] for members in parts.values()]
        # decided outside the lock, recorded under it: the log has one head, and the budgets
        # are confirmed against what other writers recorded meanwhile (BatchOversight.confirm)
        try:
            with self._ledger_lock, writer_turn(self._engine), self._engine.begin() as conn:
                self._record_group(conn, groups, decided)
        except _BudgetsMoved:
            log.info("an agency's query history moved while a group was decided: recording it lock-first")
            with self._ledger_lock, writer_turn(self._engine), self._engine.begin() as conn:
                self._record_group_locked(conn, groups, decided)
        for members, part in zip(parts.values(), decided, strict=True):
            for i, row in zip(members, part.response.iter_rows(named=True), strict=True):
                results[i] = row
        return [r if r is not None else StoreError("online verification left undecided") for r in results]

    def _record_group(
        self, conn: Connection, groups: Sequence[Sequence[OnlineRequest]], decided: Sequence[_DecidedPart]
    ) -> None:
        """Record decided parts, then take the log's lock and confirm their budgets; append.

        Recording before the lock keeps the time other writers wait for the head short (on
        PostgreSQL the inserts of other transactions proceed in parallel). Each part is
        confirmed leaving out its own and later parts' rows, which this transaction holds
        already; ``_BudgetsMoved`` when one must be decided again (nothing is committed).
        """
        sealed: list[tuple[Mapping[str, object], DecisionColumns]] = []
        for part_requests, part in zip(groups, decided, strict=True):
            sealed.extend(self._record_part(conn, part_requests, part))
        log_size = lock_head(conn)
        agencies = [part_requests[0].basis.agency for part_requests in groups]
        for n, part in enumerate(decided):
            own = frozenset(r.basis.batch_id for part_requests in groups[n:] for r in part_requests)
            # an earlier part of the agency, recorded in this transaction, counts: check again
            earlier = agencies[n] in agencies[:n]
            if not part.oversight.confirm(conn, None if earlier else log_size, exclude=own):
                raise _BudgetsMoved
        if sealed and self.settings.accounting:
            append_batches(conn, self._keys(), sealed, locked_size=log_size)

    def _record_group_locked(
        self, conn: Connection, groups: Sequence[Sequence[OnlineRequest]], decided: list[_DecidedPart]
    ) -> None:
        """``_record_group`` when a budget moved: the lock first, then each part confirmed or
        decided again under it, then recorded, one after another (``decided`` is updated)."""
        log_size = lock_head(conn)
        sealed: list[tuple[Mapping[str, object], DecisionColumns]] = []
        recorded_for: set[str] = set()
        for n, part_requests in enumerate(groups):
            agency = part_requests[0].basis.agency
            if not decided[n].oversight.confirm(conn, None if agency in recorded_for else log_size):
                decided[n] = self._decide_part(part_requests, locked=conn)
            recorded_for.add(agency)
            sealed.extend(self._record_part(conn, part_requests, decided[n]))
        if sealed and self.settings.accounting:
            append_batches(conn, self._keys(), sealed)

    def _decide_part(
        self, requests: Sequence[OnlineRequest], *, locked: Connection | None = None
    ) -> _DecidedPart:
        """Decide subjects under one basis as one frame (rows in arrival order); ``locked``: the
        reads go through this connection, which holds the store's write lock (else through one
        connection taken for the part's reads)."""
        if locked is not None:
            return self._decide_part_on(requests, locked)
        with self._engine.connect() as conn:
            return self._decide_part_on(requests, conn)

    def _decide_part_on(self, requests: Sequence[OnlineRequest], conn: Connection) -> _DecidedPart:
        now = max(r.now for r in requests)
        frame = subjects_frame([r.subject for r in requests])
        oversight = BatchOversight(self._engine, self.settings, requests[0].basis, now, locked=conn)
        decisions, response, batch_reason = self._decide(
            requests[0].basis, frame, now=now, say=lambda _msg: None, oversight=oversight,
            matcher=self.online_matcher(), subject_count=1, reading=conn,
        )  # fmt: skip
        return _DecidedPart(frame, decisions, response, batch_reason, oversight)

    def _record_part(
        self, conn: Connection, requests: Sequence[OnlineRequest], part: _DecidedPart
    ) -> list[tuple[Mapping[str, object], DecisionColumns]]:
        """Store each subject of a decided part as its own one-row batch; returns the ledger seals."""
        completed = datetime.now(UTC)
        heads = []
        for request in requests:
            basis = request.basis
            canonical = json.dumps(
                dict(request.subject), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            heads.append(
                NewBatch(
                    batch_id=basis.batch_id,
                    agency=basis.agency,
                    legal_basis=basis.legal_basis,
                    manifest_json=json.dumps(basis.raw, sort_keys=True),
                    manifest_sha256=basis.sha256,
                    requests_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
                    record_count=1,
                    batch_reason=part.batch_reason,
                    received_at=request.now,
                    completed_at=completed,
                    status="released",
                    workflow=request.recorded_as,
                )
            )

        # row i of the part is row 1 of batch i
        def owner(rows: int) -> pl.Series:
            return pl.Series("owner", range(rows), dtype=pl.Int64)

        rows = part.frame.height
        record_batches(
            conn,
            heads,
            with_series(part.frame, pl.Series("row_number", [1] * rows, dtype=pl.Int64), owner(rows)),
            with_series(part.decisions, owner(part.decisions.height)),
        )
        columns = self._entry_lists(part.decisions)
        sealed: list[tuple[Mapping[str, object], DecisionColumns]] = []
        for offset, request in enumerate(requests):
            basis = request.basis
            entry = {
                **self._batch_entry(basis, part.batch_reason, request.now),
                **part.oversight.ledger_fields(),
            }
            row = {name: values[offset : offset + 1] for name, values in columns.items()}
            sealed.append((entry, self._entry_columns(basis, row, request.now)))
        part.oversight.record_parts(conn, [(r.basis, offset + 1) for offset, r in enumerate(requests)])
        return sealed

    def online_matcher(self) -> OnlineMatcher | None:
        """The online engine over the current matching index; None if the index has no online tables.

        Loaded once and reloaded when a ``master load`` has replaced the index file (its
        inode or modification time changed), so a running service answers from the new master.
        """
        try:
            stat = self.settings.index_path.stat()
        except FileNotFoundError:
            return None
        version = (stat.st_ino, stat.st_mtime_ns)
        with self._online_lock:
            if self._matcher is None or self._matcher[0] != version:
                fresh = has_online_tables(self.settings.index_path)
                self._matcher = (version, OnlineMatcher.open(self.settings) if fresh else None)
            return self._matcher[1]

    def _decide(
        self,
        manifest: Manifest,
        frame: pl.DataFrame,
        *,
        now: datetime,
        say: Progress,
        oversight: BatchOversight,
        matcher: OnlineMatcher | None = None,
        subject_count: int | None = None,
        reading: Connection | None = None,
    ) -> tuple[pl.DataFrame, pl.DataFrame, str | None]:
        """Legal checks, linkage and response shaping: (decisions with digests, response, batch reason)."""
        say("checking the legal basis of the batch")
        decisions, batch_reason = self.decide_batch(
            manifest,
            frame,
            now=now,
            suspended=oversight.suspended_bases(),
            screen=oversight.screen,
            progress=say,
            matcher=matcher,
            subject_count=subject_count,
            reading=reading,
        )

        say("shaping the response")
        addresses = None
        if manifest.disclosure_profile == ADDRESS_OF_RECORD and batch_reason is None:
            addresses = self._addresses_of_record(decisions, matcher)
        response = response_frame(decisions, manifest.disclosure_profile, addresses)
        decisions = with_series(decisions, response_digests(response))
        return decisions, response, batch_reason

    def decide_batch(
        self,
        manifest: Manifest,
        frame: pl.DataFrame,
        *,
        now: datetime,
        settings: Settings | None = None,
        suspended: frozenset[str] = frozenset(),
        screen: Screen | None = None,
        progress: Progress | None = None,
        matcher: OnlineMatcher | None = None,
        subject_count: int | None = None,
        reading: Connection | None = None,
    ) -> tuple[pl.DataFrame, str | None]:
        """The decisions on a batch's request rows, and the batch's refusal reason if refused whole.

        ``settings`` gives the policy (default: the gateway's; remediation passes another);
        ``suspended`` names suspended bases; ``screen`` may refuse further eligible rows
        (the query budgets) given the rows and their legal refusals. ``matcher`` (the online
        engine, for a few rows) links instead of the batch engine when its configuration is
        the policy's. ``subject_count`` is the number of subjects the batch's signer vouches for
        (default: the frame's rows; a group of online verifications passes 1, each being its
        own request). ``reading``: the store is read through this connection (default: one of
        its own). Nothing is written.
        """
        say = progress or (lambda _msg: None)
        rules = settings or self.settings
        rules = replace(rules, agencies=(*rules.agencies, *self._stored_agencies(manifest.agency, reading)))
        verdict = check_batch(manifest, rules, now, subject_count or frame.height, suspended_bases=suspended)
        basis = rules.bases.get(manifest.legal_basis)
        if not verdict.allowed or basis is None:
            reason = verdict.reason or Reason.INVALID_LEGAL_BASIS
            return self._refuse_all(frame, reason), reason.value
        say("checking each subject's legal elements")
        subject_reasons = check_subjects(frame, basis)
        prepared = None
        if matcher is None or matcher.config == rules.linkage:
            # the subjects are normalised once, for the budgets and the linkage (either engine:
            # the batch engine's preparation is the same ``prepare_people``)
            eligible = (
                frame
                if subject_reasons.null_count() == frame.height
                else frame.filter(subject_reasons.is_null().alias("_eligible"))
            )
            people = pl.DataFrame(
                [eligible.get_column("row_number").cast(pl.Int64).alias("rid")]
                + [eligible.get_column(c) for c in _PERSON_COLUMNS]
            )
            prepared = prepare_people(people, today=now.date())
        if screen is not None:
            subject_reasons = subject_reasons.zip_with(
                subject_reasons.is_not_null(), screen(frame, subject_reasons, prepared)
            )
        return self._link(
            frame,
            subject_reasons,
            now=now,
            progress=say,
            settings=rules,
            matcher=matcher,
            prepared=prepared,
        ), None

    def _stored_agencies(self, agency: str, reading: Connection | None) -> tuple[str, ...]:
        """The agencies registered in the store, as ``check_batch`` needs them for ``agency``.

        Agencies are only ever added (``custodes agency add``; nothing removes one), so an
        agency found once stays registered: while ``agency`` is among those read last, they
        answer its question exactly as a fresh read would, and the store is read again only
        for an agency not among them.
        """
        known = self._agencies
        if any(agency_key(a) == agency_key(agency) for a in known):
            return known
        if reading is not None:
            known = registered_agencies(reading)
        else:
            with self._engine.connect() as conn:
                known = registered_agencies(conn)
        self._agencies = known
        return known

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
        self,
        frame: pl.DataFrame,
        subject_reasons: pl.Series,
        *,
        now: datetime,
        progress: Progress,
        settings: Settings,
        matcher: OnlineMatcher | None = None,
        prepared: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        # ``prepared``: the legally eligible rows, prepared by ``decide_batch`` for either engine
        # (absent when the online engine's configuration is not the policy's: the batch engine
        # then prepares them itself); the online engine decides when ``matcher`` is given too
        if matcher is not None and prepared is not None and frame.height <= SMALL_LINKED:
            return self._link_values(frame, subject_reasons, matcher, prepared)
        checked = frame.with_columns(subject_reasons.alias("_refusal"))
        eligible = checked.filter(pl.col("_refusal").is_null()).drop("_refusal")
        requests = eligible.rename({"row_number": "rid"})
        if matcher is not None and prepared is not None:
            # the online engine: the batch's decisions, without opening and scanning the index
            rids = requests["rid"].cast(pl.Int64)
            linked = matcher.decide_prepared(
                prepared.filter(pl.col("rid").is_in(rids.implode()))
            ).with_columns(pl.col("rid").cast(requests.schema["rid"]))
        else:
            if prepared is not None:
                prepared = prepared.with_columns(pl.col("rid").cast(requests.schema["rid"]))
            linker = DuckDBLinker(self.settings.index_path, settings.linkage)
            try:
                linked = linker.link(
                    requests, today=now.date(), progress=progress, prepared=prepared
                ).decisions
            finally:
                linker.close()
        linked = linked.rename({"rid": "row_number"})
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
                *(
                    pl.when(pl.col("_refusal").is_null()).then(pl.col(c)).alias(c)
                    for c in ("tin", "match_probability", "address_status")
                ),
            )
        )

    @staticmethod
    def _link_values(
        frame: pl.DataFrame, subject_reasons: pl.Series, matcher: OnlineMatcher, prepared: pl.DataFrame
    ) -> pl.DataFrame:
        """``_link``'s frame on Python values, for the online engine's few rows.

        The same decisions as the frame path (``tests/test_gateway_online.py`` holds the two
        equal): a refused row keeps its refusal and discloses nothing; the others take the
        online engine's decision on their prepared row.
        """
        numbers = frame["row_number"].cast(pl.Int64).to_list()
        refusals = subject_reasons.to_list()
        eligible = {n for n, r in zip(numbers, refusals, strict=True) if r is None}
        rids = prepared["rid"].cast(pl.Int64)
        if set(rids.to_list()) != eligible:
            prepared = prepared.filter(rids.is_in(sorted(eligible)))
        decided = (
            {int(row["rid"]): row for row in matcher.decide_prepared(prepared).iter_rows(named=True)}
            if eligible
            else {}
        )
        order = sorted(range(len(numbers)), key=numbers.__getitem__)
        ids = frame["request_id"].to_list()
        columns: dict[str, list[object]] = {c: [] for c in _DECISION_SCHEMA}
        for i in order:
            refusal = refusals[i]
            row = decided.get(numbers[i]) if refusal is None else None
            columns["request_id"].append(ids[i])
            if refusal is not None or row is None:
                # refused, or (as the frame path's left join) an eligible row without a decision
                columns["outcome"].append(Outcome.REFUSED.value if refusal is not None else None)
                columns["reason"].append(refusal)
                for c in ("tin", "match_probability", "address_status"):
                    columns[c].append(None)
                continue
            for c in ("outcome", "reason", "tin", "match_probability", "address_status"):
                columns[c].append(row[c])
        return frame_of(columns, _DECISION_SCHEMA)

    def _addresses_of_record(self, decisions: pl.DataFrame, matcher: OnlineMatcher | None) -> pl.DataFrame:
        tins = decisions.filter(pl.col("outcome") == Outcome.MATCH.value).select("tin")
        if matcher is not None:
            return pl.DataFrame(
                [{"tin": t, **matcher.address_of_record(t)} for t in tins["tin"].to_list()],
                schema={"tin": pl.Utf8, **dict.fromkeys(ADDRESS_COLUMNS, pl.Utf8)},
            )
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
        oversight: BatchOversight,
        claimed: int | None = None,
    ) -> BatchResult:
        out_dir.mkdir(parents=True, exist_ok=True)
        response_path = out_dir / "response.csv"
        decisions_path = out_dir / "decisions.parquet"
        tmp_response = out_dir / f".response.csv.tmp-{os.getpid()}"
        tmp_decisions = out_dir / f".decisions.parquet.tmp-{os.getpid()}"
        write_response(response, tmp_response)
        write_decisions(decisions.select(DECISION_COLUMNS), tmp_decisions)
        try:
            say("recording the batch and its accounting")
            requests_sha256 = _sha256_file(requests_path)

            def confirm(conn: Connection) -> None:
                # after the inserts, before the append: the log's lock, then the budgets
                # confirmed against what other writers recorded since the screen, leaving out
                # this batch's own rows (BatchOversight.confirm)
                own = frozenset({manifest.batch_id})
                if not oversight.confirm(conn, lock_head(conn), exclude=own):
                    raise _BudgetsMoved

            try:
                with self._engine.begin() as conn:
                    checkpoint = self._record(
                        conn, manifest=manifest, requests_sha256=requests_sha256, frame=frame,
                        decisions=decisions, batch_reason=batch_reason, now=now, claimed=claimed,
                        oversight=oversight, before_append=confirm,
                    )  # fmt: skip
            except _BudgetsMoved:
                # rolled back: lock first, decide again under the lock, record
                with self._engine.begin() as conn:
                    lock_head(conn)
                    say("the agency's query history changed while the batch was decided: deciding it again")
                    oversight = BatchOversight(self._engine, self.settings, manifest, now, locked=conn)
                    decisions, response, batch_reason = self._decide(
                        manifest, frame, now=now, say=say, oversight=oversight
                    )
                    write_response(response, tmp_response)
                    write_decisions(decisions.select(DECISION_COLUMNS), tmp_decisions)
                    checkpoint = self._record(
                        conn, manifest=manifest, requests_sha256=requests_sha256, frame=frame,
                        decisions=decisions, batch_reason=batch_reason, now=now, claimed=claimed,
                        oversight=oversight,
                    )  # fmt: skip
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

    def _record(
        self,
        conn: Connection,
        *,
        manifest: Manifest,
        requests_sha256: str,
        frame: pl.DataFrame,
        decisions: pl.DataFrame,
        batch_reason: str | None,
        now: datetime,
        claimed: int | None,
        oversight: BatchOversight,
        status: str = "decided",
        workflow: Mapping[str, object] | None = None,
        before_append: Callable[[Connection], None] | None = None,
    ) -> str | None:
        """Store the batch, its rows and decisions and append its accounting, in ``conn``'s transaction.

        ``before_append`` is called with ``conn`` once everything but the accounting is stored."""
        keys = self._keys() if self.settings.accounting else None
        if claimed is None:
            record_batch(
                conn,
                batch_id=manifest.batch_id,
                agency=manifest.agency,
                legal_basis=manifest.legal_basis,
                manifest_json=json.dumps(manifest.raw, sort_keys=True),
                manifest_sha256=manifest.sha256,
                requests_sha256=requests_sha256,
                request_rows=frame,
                decision_rows=decisions,
                batch_reason=batch_reason,
                received_at=now,
                completed_at=datetime.now(UTC),
                status=status,
                workflow=workflow,
            )
        else:
            complete_batch(
                conn,
                claimed,
                request_rows=frame,
                decision_rows=decisions,
                batch_reason=batch_reason,
                completed_at=datetime.now(UTC),
            )
        oversight.record(conn)
        if before_append is not None:
            before_append(conn)
        if keys is None:
            return None
        signed = append_batch(
            conn,
            keys,
            {**self._batch_entry(manifest, batch_reason, now), **oversight.ledger_fields()},
            self._entries(manifest, decisions, now),
        )
        return signed.note

    def append_event(self, conn: Connection, entry: Mapping[str, object]) -> str | None:
        """Append one act that is not a batch (a release, a denial, ...) inside ``conn``'s transaction.

        Returns the new signed checkpoint, or None when accounting is switched off.
        """
        if not self.settings.accounting:
            return None
        return append_event(conn, self._keys(), entry).note

    @property
    def engine(self) -> Engine:
        """The operational store's engine (shared with the service's own tables)."""
        return self._engine

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
        return Gateway._entry_columns(manifest, Gateway._entry_lists(decisions), now)

    @staticmethod
    def _entry_lists(decisions: pl.DataFrame) -> dict[str, list[Any]]:
        """The decision columns an accounting entry reads, as lists."""
        return {
            name: decisions.get_column(name).to_list()
            for name in ("request_id", "outcome", "reason", "response_sha256", "tin")
        }

    @staticmethod
    def _entry_columns(
        manifest: Manifest, columns: Mapping[str, list[Any]], now: datetime
    ) -> DecisionColumns:
        return DecisionColumns(
            batch_id=manifest.batch_id,
            agency=manifest.agency,
            basis=manifest.legal_basis,
            profile=manifest.disclosure_profile,
            at=now,
            request_ids=columns["request_id"],
            outcomes=columns["outcome"],
            reasons=columns["reason"],
            disclosed_sha256=columns["response_sha256"],
            tins=columns["tin"],
        )


def open_gateway(settings: Settings | None = None) -> Gateway:
    """A Gateway on the given settings, or on those read from the environment."""
    return Gateway(settings or load_settings())
