"""Two gateways on one store, as two server processes (`custodes serve --workers 2`) have them.

Each Gateway has its own engine and its own in-process locks, so what keeps two of them
consistent is the store alone: the write lock taken first (``lock_head``), and the budgets
confirmed under it (``BatchOversight.confirm``). Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from custodes import Gateway, Settings
from custodes.contract import Manifest, read_manifest
from custodes.gateway import OnlineRequest
from custodes.ledger.audit import audit_log
from custodes.ledger.store import entries, head_size, lock_head, set_head
from custodes.oversight.tables import budget_queries
from custodes.store import connect
from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows
from tests.test_gateway import NOW, REQUESTS, write_batch
from tests.test_gateway_online import subjects

EXCEEDED = "query_budget_exceeded"
LIMIT = 3
"""The default subject_limit: a subject is answered three times in the window, then refused."""


@pytest.fixture
def pair(tmp_path: Path, store_url: str) -> Iterator[tuple[Gateway, Gateway]]:
    """Two gateways on one home and one store: two processes of one service."""
    settings = Settings(home=tmp_path / "home", database_url=store_url)
    first = Gateway(settings)
    first.init()
    master = tmp_path / "master.parquet"
    frame = pl.DataFrame(MASTER_ROWS + filler_rows(1000), schema=COLUMNS, orient="row")
    frame.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year").write_parquet(master)
    first.load_master(master)
    second = Gateway(settings)
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def basis(tmp_path: Path) -> Manifest:
    _, man = write_batch(tmp_path / "basis", REQUESTS, batch_id="DHS-P")
    return read_manifest(man)


def ask(gateway: Gateway, basis: Manifest, name: str) -> dict[str, object]:
    """Verify the first test subject (answered ``match`` while within its budget)."""
    return gateway.verify_subject(replace(basis, batch_id=f"DHS-P-{name}"), subjects()[0], now=NOW)


def stored_queries(gateway: Gateway) -> list[str]:
    with gateway.engine.connect() as conn:
        return [str(s) for s in conn.execute(select(budget_queries.c.status)).scalars()]


def test_a_verification_decided_before_another_process_used_the_budget_is_decided_again(
    pair: tuple[Gateway, Gateway], basis: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = pair
    decide = first._decide_part
    interleaved: list[bool] = []

    def decide_then_the_other_process_commits(
        requests: Sequence[OnlineRequest], *, locked: object = None
    ) -> object:
        part = decide(requests, locked=locked)  # type: ignore[arg-type]
        if not interleaved:
            interleaved.append(True)
            # while `first` holds its decision unrecorded, `second` spends the whole budget
            assert [ask(second, basis, f"B{n}")["reason"] for n in range(LIMIT)] == [None] * LIMIT
        return part

    monkeypatch.setattr(first, "_decide_part", decide_then_the_other_process_commits)
    answer = ask(first, basis, "A")
    # screened against a history without the other's three, it was confirmed under the lock
    assert answer["outcome"] == "refused"
    assert answer["reason"] == EXCEEDED
    assert sorted(stored_queries(first)) == ["answered"] * LIMIT + ["refused"]


def test_a_batch_decided_before_another_process_used_the_budget_is_decided_again(
    pair: tuple[Gateway, Gateway], basis: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = pair
    decide = first._decide
    calls: list[bool] = []

    def decide_then_the_other_process_commits(*args: object, **kwargs: object) -> object:
        decided = decide(*args, **kwargs)  # type: ignore[arg-type]
        if not calls:
            calls.append(True)
            assert [ask(second, basis, f"B{n}")["reason"] for n in range(LIMIT)] == [None] * LIMIT
        return decided

    monkeypatch.setattr(first, "_decide", decide_then_the_other_process_commits)
    requests, man = write_batch(tmp_path / "batch", REQUESTS, batch_id="DHS-P-BATCH")
    result = first.verify_batch(requests, man, tmp_path / "out", now=NOW)
    response = pl.read_csv(result.response_path, infer_schema=False)
    row = response.filter(pl.col("request_id") == subjects()[0]["request_id"]).to_dicts()[0]
    assert row["outcome"] == "refused"
    assert row["reason"] == EXCEEDED
    assert len(calls) == 1
    stored = pl.read_parquet(result.decisions_path).filter(pl.col("request_id") == "R1")
    assert stored["reason"].to_list() == [EXCEEDED]  # the files written are the second decision's


def test_when_nobody_else_wrote_the_screen_stands_without_a_second_check(
    pair: tuple[Gateway, Gateway], basis: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = pair
    checks: list[int] = []
    from custodes.oversight import hooks

    original = hooks.check_budgets

    def counted(*args: object, **kwargs: object) -> object:
        checks.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hooks, "check_budgets", counted)
    assert ask(first, basis, "A")["reason"] is None
    assert len(checks) == 1  # the screen only: the log had not moved when the lock was taken


def test_two_processes_verifying_one_subject_at_once_answer_it_exactly_the_budget(
    pair: tuple[Gateway, Gateway], basis: Manifest
) -> None:
    reasons: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(gateway: Gateway, name: str) -> None:
        try:
            for n in range(4):
                answer = ask(gateway, basis, f"{name}{n}")
                with lock:
                    reasons.append(answer["reason"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(gw, name)) for gw, name in zip(pair, "XY", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(reasons, key=str) == [None] * LIMIT + [EXCEEDED] * (8 - LIMIT)
    first = pair[0]
    engine = connect(first.settings.store_url)
    try:
        with engine.connect() as conn:
            kinds = conn.execute(select(func.count()).select_from(entries).where(entries.c.kind == 0))
            assert kinds.scalar_one() == 8  # one batch entry per verification, none lost
            report = audit_log(conn, first._keys().verifier)
        assert report.ok, report
    finally:
        engine.dispose()


def test_an_appender_waits_for_another_writer_instead_of_failing(store_url: str, tmp_path: Path) -> None:
    """A writer that committed between another's read and write used to fail it on SQLite."""
    Gateway(Settings(home=tmp_path / "home", database_url=store_url)).init()
    holder, waiter = connect(store_url), connect(store_url)
    seen: list[int] = []
    failures: list[BaseException] = []
    try:
        with holder.begin() as conn:
            size = lock_head(conn)
            started = threading.Event()

            def append() -> None:
                started.set()
                try:
                    with waiter.begin() as other:
                        seen.append(lock_head(other))
                except BaseException as exc:
                    failures.append(exc)

            thread = threading.Thread(target=append)
            thread.start()
            started.wait()
            thread.join(0.5)
            assert thread.is_alive()  # queued behind the holder's lock
            set_head(conn, size, size + 1)
        thread.join(30)
        assert failures == []
        assert seen == [size + 1]  # the newest size, read under its own lock
        with holder.connect() as conn:
            assert head_size(conn) == size + 1
    finally:
        holder.dispose()
        waiter.dispose()


def test_two_bases_of_one_agency_in_one_group_count_against_one_budget(
    pair: tuple[Gateway, Gateway], basis: Manifest
) -> None:
    """Parts under different bases are decided apart, then confirmed one after another."""
    first, _ = pair
    other = replace(basis, reason=basis.reason + " The second investigation concerns the same person.")
    subject = subjects()[0]
    items = [
        OnlineRequest(replace(b, batch_id=f"DHS-P-{b is other}-{n}"), subject, NOW)
        for b in (basis, other)
        for n in range(2)
    ]
    answers = first.verify_subjects(items)
    reasons = [a["reason"] for a in answers if isinstance(a, dict)]
    # one at a time: three answers, then the budget is spent, whichever basis asks
    assert reasons == [None, None, None, EXCEEDED]
    assert sorted(stored_queries(first)) == ["answered"] * LIMIT + ["refused"]


def test_a_batch_is_not_decided_again_when_another_writer_left_its_budgets_alone(
    pair: tuple[Gateway, Gateway], basis: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log moved, so the budgets are checked again, leaving out the batch's own rows."""
    first, second = pair
    # R1's subject is asked twice first: the batch's R1 is its last answer within the budget,
    # which the check again would refuse if it counted the batch's own, already stored, row
    assert [ask(first, basis, f"PRE{n}")["reason"] for n in range(LIMIT - 1)] == [None] * (LIMIT - 1)
    decide = first._decide
    calls: list[bool] = []

    def decide_then_another_subject_is_verified(*args: object, **kwargs: object) -> object:
        decided = decide(*args, **kwargs)  # type: ignore[arg-type]
        calls.append(True)
        if len(calls) == 1:
            other = {**subjects()[1], "request_id": "OTHER"}
            second.verify_subject(replace(basis, batch_id="DHS-P-OTHER"), other, now=NOW)
        return decided

    monkeypatch.setattr(first, "_decide", decide_then_another_subject_is_verified)
    requests, man = write_batch(tmp_path / "batch", REQUESTS, batch_id="DHS-P-BATCH")
    result = first.verify_batch(requests, man, tmp_path / "out", now=NOW)
    assert len(calls) == 1  # confirmed, not decided again
    response = pl.read_csv(result.response_path, infer_schema=False)
    assert EXCEEDED not in response["reason"].to_list()
    assert sorted(stored_queries(first)).count("answered") >= LIMIT  # R1 answered a third time
