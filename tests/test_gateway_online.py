"""Online subjects through the Gateway's online engine: the batch's answers, each accounted before it is given."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path

import duckdb
import polars as pl
import pytest
from sqlalchemy import func, select

from custodes import Gateway, Settings, StoreError, UserInputError
from custodes import gateway as gateway_module
from custodes.contract import Manifest, read_manifest
from custodes.gateway import OnlineRequest
from custodes.groups import GroupRunner
from custodes.ledger.reader import prove_request
from custodes.ledger.store import checkpoints, entries
from custodes.oversight.tables import budget_queries
from custodes.store import connect
from custodes.store.engine import writer_turn
from custodes.store.schema import batches
from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows
from tests.test_gateway import NOW, REQUEST_HEADER, REQUESTS, write_batch

COURT_ORDER = {
    "legal_basis": "26 USC 6103(i)(1)",
    "signed_by": {"name": "Hon. A. Synthetic", "title": "United States Magistrate Judge"},
    "court_order": {
        "court": "D.D.C.",
        "docket": "1:26-mj-1",
        "judge": "Hon. A. Synthetic",
        "signed_on": "2026-11-01",
        "expires_on": "2027-01-01",
    },
    "disclosure_profile": "address_of_record",
}


@pytest.fixture
def gateway(tmp_path: Path, store_url: str) -> Iterator[Gateway]:
    gw = Gateway(Settings(home=tmp_path / "home", database_url=store_url))
    gw.init()
    master = pl.DataFrame(MASTER_ROWS + filler_rows(1000), schema=COLUMNS, orient="row")
    path = tmp_path / "master.parquet"
    master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year").write_parquet(path)
    gw.load_master(path)
    yield gw
    gw.close()


def subjects() -> list[dict[str, str | None]]:
    return [
        {k: None if v is None else str(v) for k, v in zip(REQUEST_HEADER, row, strict=True)}
        for row in REQUESTS
    ]


def batch_response(gateway: Gateway, tmp_path: Path, **overrides: object) -> list[dict[str, object]]:
    batch, man = write_batch(tmp_path / "batch-in", REQUESTS, **overrides)
    result = gateway.verify_batch(batch, man, tmp_path / "batch-out", now=NOW)
    return pl.read_csv(result.response_path, infer_schema=False).to_dicts()


def online_answers(gateway: Gateway, manifest: Manifest) -> list[dict[str, object]]:
    """Every subject verified alone, each its own one-row batch (as the service records them)."""
    return [
        gateway.verify_subject(replace(manifest, batch_id=f"{manifest.batch_id}-{i}"), s, now=NOW)
        for i, s in enumerate(subjects())
    ]


def test_each_online_answer_equals_the_batch_response_row(gateway: Gateway, tmp_path: Path) -> None:
    assert gateway.online_matcher() is not None  # the online engine answers, not the batch's
    expected = batch_response(gateway, tmp_path)
    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-1")
    answers = online_answers(gateway, read_manifest(man))
    assert answers == expected
    outcomes = {a["request_id"]: (a["outcome"], a["reason"]) for a in answers}
    assert outcomes["R1"] == ("match", None)
    assert outcomes["R3"] == ("refused", "placeholder_address")
    assert outcomes["R5"] == ("refused", "invalid_tin")


def test_a_court_order_answer_carries_the_address_of_record_as_the_batch_does(
    gateway: Gateway, tmp_path: Path
) -> None:
    expected = batch_response(gateway, tmp_path, **COURT_ORDER)
    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-2", **COURT_ORDER)
    answers = online_answers(gateway, read_manifest(man))
    assert answers == expected
    assert answers[0]["street"] == "9 Oak Avenue Apt 3"


def test_an_index_without_online_tables_is_refused_with_a_clear_error(
    gateway: Gateway, tmp_path: Path
) -> None:
    # the batch engine reads the online tables too (its candidates are their keys), so an
    # index built before them is refused by both engines, saying what to do
    assert gateway.online_matcher() is not None
    con = duckdb.connect(str(gateway.settings.index_path))
    con.execute("DROP TABLE online_meta")
    con.close()
    assert gateway.online_matcher() is None  # the changed index file is looked at again
    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-7")
    with pytest.raises(StoreError, match=r"no online tables.*master load"):
        online_answers(gateway, read_manifest(man))


def test_concurrent_answers_are_each_in_the_log_and_provable(gateway: Gateway, tmp_path: Path) -> None:
    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-3")
    manifest = read_manifest(man)
    answers: dict[str, dict[str, object]] = {}
    lock = threading.Lock()

    def ask(copy: int) -> None:
        for subject in subjects():
            request_id = f"{subject['request_id']}-{copy}"
            answer = gateway.verify_subject(
                replace(manifest, batch_id=f"DHS-ONLINE-3-{request_id}"),
                {**subject, "request_id": request_id},
            )
            with lock:
                answers[str(answer["request_id"])] = answer

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 6 * len(REQUESTS)
    engine = connect(gateway.settings.store_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                select(func.count()).select_from(entries).where(entries.c.kind == 0)
            ).scalar_one()
            assert stored == len(answers)
            for request_id in ("R1-0", "R8-5", "R4-3"):
                bundle = prove_request(
                    conn, gateway.settings.log_origin, f"DHS-ONLINE-3-{request_id}", request_id
                )
                assert bundle["checkpoint"]
    finally:
        engine.dispose()


def test_no_answer_is_given_when_its_log_entry_cannot_be_written(gateway: Gateway, tmp_path: Path) -> None:
    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-4")
    shutil.rmtree(gateway.settings.home / "ledger")
    with pytest.raises(StoreError, match="custodes init"):
        gateway.verify_subject(read_manifest(man), subjects()[0], now=NOW)


def test_a_manifest_that_fails_the_law_refuses_the_subject_with_its_reason(
    gateway: Gateway, tmp_path: Path
) -> None:
    _, man = write_batch(
        tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-5", statutory_authority="26 USC 7201"
    )
    answer = gateway.verify_subject(read_manifest(man), subjects()[0], now=NOW)
    assert answer == {
        "request_id": "R1",
        "outcome": "refused",
        "reason": "tax_administration_statute",
        "address_status": None,
    }


def test_a_subject_needs_a_request_id(gateway: Gateway, tmp_path: Path) -> None:
    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-6")
    subject = {**subjects()[0], "request_id": "  "}
    with pytest.raises(UserInputError, match="request_id"):
        gateway.verify_subject(read_manifest(man), subject, now=NOW)


def test_the_group_runner_answers_each_caller_and_isolates_failures() -> None:
    seen: list[int] = []

    def handle(items: list[int]) -> list[int | BaseException]:
        seen.append(len(items))
        return [ValueError(f"bad {i}") if i < 0 else i * 2 for i in items]

    runner: GroupRunner[int, int] = GroupRunner(handle, max_group=4, max_wait=0.05)
    futures = [runner.submit(i) for i in (1, -1, 3, 4, 5)]
    assert futures[0].result() == 2
    with pytest.raises(ValueError, match="bad -1"):
        futures[1].result()
    assert [f.result() for f in futures[2:]] == [6, 8, 10]
    runner.close()
    assert max(seen) <= 4
    assert sum(seen) == 5
    with pytest.raises(RuntimeError, match="closed"):
        runner.submit(1)


def test_when_the_group_fails_every_caller_hears_it() -> None:
    def handle(items: list[int]) -> list[int]:
        raise OSError("disk full")

    runner: GroupRunner[int, int] = GroupRunner(handle)
    with pytest.raises(OSError, match="disk full"):
        runner.run(1)
    runner.close()


def _gateway(home: Path, store_url: str, master: Path) -> Gateway:
    gw = Gateway(Settings(home=home, database_url=store_url))
    gw.init()
    gw.load_master(master)
    return gw


def test_a_group_is_answered_as_its_subjects_one_after_another(
    tmp_path: Path, store_url: str, second_store_url: str
) -> None:
    """Group commit changes when an answer is committed, never what it is."""
    master = tmp_path / "master.parquet"
    frame = pl.DataFrame(MASTER_ROWS + filler_rows(1000), schema=COLUMNS, orient="row")
    frame.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year").write_parquet(master)
    _, man = write_batch(tmp_path / "dhs", REQUESTS, batch_id="DHS-G")
    _, court = write_batch(tmp_path / "court", REQUESTS, batch_id="COURT-G", **COURT_ORDER)
    dhs, order = read_manifest(man), read_manifest(court)
    first = subjects()[0]
    items = [
        # the same subject five times: past the budget of three, the rest are refused in arrival order
        *(OnlineRequest(replace(dhs, batch_id=f"DHS-G-R1-{n}"), first, NOW) for n in range(5)),
        *(OnlineRequest(replace(dhs, batch_id=f"DHS-G-{s['request_id']}"), s, NOW) for s in subjects()[1:]),
        OnlineRequest(replace(order, batch_id="COURT-G-R2"), subjects()[1], NOW),
        OnlineRequest(replace(dhs, batch_id="DHS-G-BAD"), {**first, "nickname": "x"}, NOW),
        OnlineRequest(replace(dhs, batch_id="DHS-G-BLANK"), {**first, "request_id": " "}, NOW),
    ]
    alone = _gateway(tmp_path / "alone", store_url, master)
    together = _gateway(tmp_path / "together", second_store_url, master)
    try:
        expected: list[object] = []
        for item in items:
            try:
                expected.append(alone.verify_subject(item.basis, item.subject, now=item.now))
            except UserInputError as exc:
                expected.append(type(exc))
        with together.engine.connect() as conn:
            checkpoints_before = conn.execute(select(func.count()).select_from(checkpoints)).scalar_one()
        answers = together.verify_subjects(items)
        got = [type(a) if isinstance(a, BaseException) else a for a in answers]
        assert got == expected
        reasons = [a["reason"] for a in answers[:5] if isinstance(a, dict)]
        assert reasons == [None, None, None, "query_budget_exceeded", "query_budget_exceeded"]
        court = answers[len(items) - 3]
        assert isinstance(court, dict)
        assert set(court) >= {"outcome", "street", "city", "state", "zip"}  # address_of_record's shape
        assert isinstance(answers[-2], UserInputError)
        assert "nickname" in str(answers[-2])
        assert isinstance(answers[-1], UserInputError)
        assert "request_id" in str(answers[-1])

        def stored(gw: Gateway) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
            with gw.engine.connect() as conn:
                rows = conn.execute(select(batches.c.batch_id, batches.c.status, batches.c.record_count))
                queries = conn.execute(
                    select(
                        budget_queries.c.batch_id,
                        budget_queries.c.row_number,
                        budget_queries.c.status,
                        budget_queries.c.subject_keys,
                    )
                )
                return sorted(tuple(r) for r in rows), sorted(tuple(q) for q in queries)

        # the same batches and the same budget state as one at a time
        assert stored(together) == stored(alone)
        decided = [i for i, a in zip(items, answers, strict=True) if isinstance(a, dict)]
        assert len(stored(together)[0]) == len(decided)
        with together.engine.connect() as conn:
            checkpoints_after = conn.execute(select(func.count()).select_from(checkpoints)).scalar_one()
            assert checkpoints_after == checkpoints_before + 1  # one signed checkpoint for the group
            for item in decided:
                request_id = str(item.subject["request_id"])
                bundle = prove_request(conn, together.settings.log_origin, item.basis.batch_id, request_id)
                assert bundle["checkpoint"]
    finally:
        alone.close()
        together.close()


def test_the_online_decisions_on_python_values_equal_the_frame_join(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Gateway._link_values`` (an online group's few rows) gives the frame path's decisions:
    legal refusals, a further (budget) refusal, matches and non-matches, rows out of order."""

    _, man = write_batch(tmp_path / "dhs", REQUESTS, batch_id="DHS-L")
    manifest = read_manifest(man)
    matcher = gateway.online_matcher()
    assert matcher is not None
    people = [{**s, "request_id": f"{s['request_id']}-{n}"} for n in range(3) for s in subjects()]

    def refuse_every_fourth(frame: pl.DataFrame, refused: pl.Series, _prepared: object) -> pl.Series:
        return pl.Series([("query_budget_exceeded" if n % 4 == 0 else None) for n in frame["row_number"]])

    def decide(limit: int) -> pl.DataFrame:
        monkeypatch.setattr(gateway_module, "SMALL_LINKED", limit)
        frame = gateway_module.subjects_frame(people)
        # rows out of order: the decisions still come in row order
        frame = frame.sample(fraction=1.0, shuffle=True, seed=7)
        decisions, reason = gateway.decide_batch(
            manifest, frame, now=NOW, screen=refuse_every_fourth, matcher=matcher, subject_count=1
        )
        assert reason is None
        return decisions

    by_values, by_frame = decide(64), decide(0)
    assert by_values.schema == by_frame.schema
    assert by_values.to_dicts() == by_frame.to_dicts()
    outcomes = set(by_values["outcome"].to_list())
    assert {"match", "refused"} <= outcomes, outcomes
    reasons = set(by_values["reason"].drop_nulls().to_list())
    assert "query_budget_exceeded" in reasons
    assert len(reasons) > 1, reasons


def test_an_agency_registered_after_the_gateway_read_the_registry_is_known_at_once(
    gateway: Gateway, tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodes.service.records import add_agency

    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="NEW-1", agency="Agency of Late Arrivals")
    manifest = read_manifest(man)
    reads = 0
    real = gateway_module.registered_agencies

    def counting(conn: object) -> tuple[str, ...]:
        nonlocal reads
        reads += 1
        return real(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(gateway_module, "registered_agencies", counting)
    first = gateway.verify_subject(replace(manifest, batch_id="NEW-1a"), subjects()[0], now=NOW)
    assert (first["outcome"], first["reason"]) == ("refused", "unknown_agency")
    assert reads == 1
    # registered by another process (its own engine on the same store)
    other = connect(store_url)
    try:
        with other.begin() as conn:
            add_agency(conn, "Agency of Late Arrivals", NOW)
    finally:
        other.dispose()
    second = gateway.verify_subject(replace(manifest, batch_id="NEW-1b"), subjects()[0], now=NOW)
    assert second["outcome"] == "match"
    assert reads == 2
    # known now: the registry is not read again for it (agencies are never removed)
    third = gateway.verify_subject(replace(manifest, batch_id="NEW-1c"), subjects()[1], now=NOW)
    assert third["outcome"] != "refused" or third["reason"] != "unknown_agency"
    assert reads == 2


def test_an_online_group_is_recorded_in_the_store_writers_turn(gateway: Gateway, tmp_path: Path) -> None:
    """The group's recording transaction waits for ``writer_turn`` (SQLite: the lock file
    beside the store; PostgreSQL: no file, its own row lock), so another process's writer
    holding the turn delays the answer instead of sending both into SQLite's busy sleeps."""
    _, man = write_batch(tmp_path / "online", REQUESTS, batch_id="DHS-ONLINE-TURN")
    sqlite = gateway.engine.url.get_backend_name() == "sqlite"
    with writer_turn(gateway.engine):
        pending = gateway.submit_subject(read_manifest(man), subjects()[0], now=NOW)
        if sqlite:
            with pytest.raises(FutureTimeout):
                pending.result(timeout=0.5)
        else:  # no file to lock: answered while the (no-op) turn is held
            assert pending.result(timeout=30)["request_id"] == subjects()[0]["request_id"]
    row = pending.result(timeout=30)
    assert row["request_id"] == subjects()[0]["request_id"]
    with gateway.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(batches)).scalar_one()
    assert stored == 1
