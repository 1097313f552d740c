"""Appending to the log inside the caller's transaction, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from alembic import command
from sqlalchemy import Engine, event, inspect

from custodes.errors import LedgerError
from custodes.ledger import (
    DecisionColumns,
    DecisionEntry,
    LedgerKeys,
    append_batch,
    append_event,
    audit_log,
    latest_checkpoint,
    prove_request,
    store,
    writer,
)
from custodes.ledger.verify import verify_checkpoint
from custodes.store import connect, upgrade
from custodes.store.engine import alembic_config

from .conftest import batch_entry, decision
from .reference import mth


def _entries(engine: Engine) -> list[bytes]:
    with engine.connect() as conn:
        return [data for _, data in store.entry_range(conn, 0, 1 << 62)]


def test_a_batch_is_appended_sealed_and_signed(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        checkpoint = append_batch(conn, keys, batch_entry("B1"), (decision("B1", i) for i in range(600)))
    assert checkpoint.size == 601
    stored = _entries(engine)
    assert checkpoint.root_hash == mth(stored)
    assert verify_checkpoint(checkpoint.note, keys.verifier).size == 601
    assert checkpoint.note.startswith(checkpoint.text + "\n— ")
    seal = json.loads(stored[-1])
    assert (seal["type"], seal["batch_id"], seal["decisions"], seal["first_index"]) == ("batch", "B1", 600, 0)
    assert seal["manifest_sha256"] == batch_entry("B1")["manifest_sha256"]
    with engine.connect() as conn:
        assert latest_checkpoint(conn, keys.origin) == checkpoint
        assert store.head_size(conn) == 601


def test_decision_columns_append_the_same_log_as_decision_objects(
    engine: Engine, keys: LedgerKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "CHUNK", 7)  # several chunks, the last one partial
    objects = [decision("B1", i, tin=None if i % 3 == 0 else "default") for i in range(20)]
    columns = DecisionColumns(
        batch_id="B1",
        agency=objects[0].agency,
        basis=objects[0].basis,
        profile=objects[0].profile,
        at=objects[0].at,
        request_ids=[d.request_id for d in objects],
        outcomes=[d.outcome for d in objects],
        reasons=[d.reason for d in objects],
        disclosed_sha256=[d.disclosed_sha256 for d in objects],
        tins=[d.tin for d in objects],
    )
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), columns)
        checkpoint = append_batch(conn, keys, batch_entry("B2"), [replace(d, batch_id="B2") for d in objects])
    stored = _entries(engine)
    assert [json.loads(e) for e in stored[:20]] == [
        {**json.loads(e), "batch_id": "B1"} for e in stored[21:41]
    ]
    assert checkpoint.root_hash == mth(stored)
    with engine.connect() as conn:
        assert audit_log(conn, keys.verifier).ok
        assert prove_request(conn, keys.origin, "B1", "R0000013")["leaf_index"] == 13


def test_batches_and_events_accumulate(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(3)])
    with engine.begin() as conn:
        event = append_event(
            conn, keys, {"event": "suspension", "basis": "26 USC 6103(i)(2)", "at": decision("B", 0).at}
        )
    with engine.begin() as conn:
        last = append_batch(conn, keys, batch_entry("B2"), [])
    assert (event.size, last.size) == (5, 6)
    stored = _entries(engine)
    assert json.loads(stored[4])["event"] == "suspension"
    assert json.loads(stored[5])["first_index"] == 5
    assert last.root_hash == mth(stored)
    with engine.connect() as conn:
        assert audit_log(conn, keys.verifier).ok
        assert len(store.all_checkpoint_notes(conn)) == 3


def _failing(batch: str, fail_at: int) -> Iterator[DecisionEntry]:
    for i in range(fail_at):
        yield decision(batch, i)
    raise RuntimeError("the gateway failed half way")


def test_a_failed_batch_leaves_no_trace(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(10)])
    with pytest.raises(RuntimeError, match="half way"), engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B2"), _failing("B2", 40_000))
    assert len(_entries(engine)) == 11
    with engine.connect() as conn:
        assert latest_checkpoint(conn, keys.origin).size == 11
        assert audit_log(conn, keys.verifier).ok
    # And the log carries on from where it was.
    with engine.begin() as conn:
        assert append_batch(conn, keys, batch_entry("B2"), [decision("B2", 0)]).size == 13


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"agency": "x"}, "string batch_id"),
        ({"batch_id": "B", "decisions": 3}, "set by the ledger"),
        ({"batch_id": "B", "score": 0.5}, "float cannot go"),
    ],
)
def test_bad_batch_entries_are_refused_before_anything_is_written(
    engine: Engine, keys: LedgerKeys, entry: dict[str, object], message: str
) -> None:
    with pytest.raises(LedgerError, match=message), engine.begin() as conn:
        append_batch(conn, keys, entry, [decision("B", 0)])
    assert _entries(engine) == []


@pytest.mark.parametrize(
    "entry", [{}, {"event": ""}, {"event": "batch"}, {"event": "decision"}, {"event": 3}]
)
def test_events_must_name_their_kind(engine: Engine, keys: LedgerKeys, entry: dict[str, object]) -> None:
    with pytest.raises(LedgerError, match="'event' string"), engine.begin() as conn:
        append_event(conn, keys, entry)


def test_a_writer_that_appends_before_we_take_the_lock_is_queued_behind_not_a_failure(
    sqlite_engine: Engine, sqlite_url: str, keys: LedgerKeys
) -> None:
    """The lock is taken before the head is read: an append in between moves where ours lands.

    Before, the head was read first and the first write came after it; on SQLite another
    process committing in between failed the append ("at the same time").
    """
    other = connect(sqlite_url)
    interleaved: list[str] = []

    def other_writer(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        # just before our first statement (the lock), another process appends and commits
        if statement.startswith("UPDATE ledger_head") and not interleaved:
            interleaved.append(statement)
            with other.begin() as conn:
                append_event(conn, keys, {"event": "other"})

    event.listen(sqlite_engine, "before_cursor_execute", other_writer)
    try:
        with sqlite_engine.begin() as conn:
            append_event(conn, keys, {"event": "ours"})
    finally:
        event.remove(sqlite_engine, "before_cursor_execute", other_writer)
        other.dispose()
    assert interleaved
    assert [json.loads(e)["event"] for e in _entries(sqlite_engine)] == ["other", "ours"]
    with sqlite_engine.connect() as conn:
        assert store.head_size(conn) == 2
        assert audit_log(conn, keys.verifier).ok


def test_the_head_is_compared_and_swapped(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", 0)])
    with pytest.raises(LedgerError, match="at the same time"), engine.begin() as conn:
        store.set_head(conn, 1, 3)


def test_an_entry_already_at_the_next_index_is_reported_as_a_race(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        store.insert_entries(conn, [(0, 2, None, None, b"{}")])
    with pytest.raises(LedgerError, match="at the same time"), engine.begin() as conn:
        append_event(conn, keys, {"event": "x"})
    with pytest.raises(LedgerError, match="at the same time"), engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B"), [])
    with pytest.raises(LedgerError, match="at the same time"), engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B"), [decision("B", 0)])


def test_the_head_row_must_exist(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        conn.execute(store.head.delete())
    with pytest.raises(LedgerError, match="head row is missing"), engine.begin() as conn:
        append_event(conn, keys, {"event": "x"})


def test_damaged_partial_tiles_stop_the_append(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(5)])
        conn.execute(store.tiles.delete())
    with pytest.raises(LedgerError, match="stored tiles are damaged"), engine.begin() as conn:
        append_event(conn, keys, {"event": "x"})


def test_sqlite_page_cache_setting_is_restored(sqlite_engine: Engine, keys: LedgerKeys) -> None:
    with sqlite_engine.begin() as conn:
        before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", 0)])
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before


def test_tables_are_on_the_shared_metadata() -> None:
    from custodes.store.schema import metadata

    assert {
        "ledger_entries",
        "ledger_tiles",
        "ledger_checkpoints",
        "ledger_cosignatures",
        "ledger_head",
    } <= set(metadata.tables)
    assert store.entries.c.idx.primary_key


def test_the_migration_goes_down_and_up_again(store_url: str) -> None:
    upgrade(store_url)
    command.downgrade(alembic_config(store_url), "0001")
    engine = connect(store_url)
    try:
        assert not {t for t in inspect(engine).get_table_names() if t.startswith("ledger_")}
        upgrade(store_url)
        with engine.connect() as conn:
            assert store.head_size(conn) == 0
    finally:
        engine.dispose()


def test_an_append_given_the_locked_size_writes_the_same_log_and_a_stale_one_fails(
    engine: Engine, keys: LedgerKeys
) -> None:
    from custodes.ledger import append_batches

    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B0"), [decision("B0", 0)])
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with engine.begin() as conn:
        size = store.lock_head(conn)
        locked = len(statements)
        checkpoint = append_batches(conn, keys, [(batch_entry("B1"), [decision("B1", 0)])], locked_size=size)
    assert checkpoint.size == size + 2
    assert not [s for s in statements[locked:] if "UPDATE ledger_head SET size=ledger_head.size" in s]
    with engine.connect() as conn:
        assert audit_log(conn, keys.verifier).ok
        assert store.head_size(conn) == size + 2

    def stale() -> None:
        with engine.begin() as conn:
            store.lock_head(conn)
            append_batches(conn, keys, [(batch_entry("B2"), [decision("B2", 0)])], locked_size=size)

    # a size that is not the head's is refused (by the tiles or the head's compare-and-swap)
    with pytest.raises(LedgerError):
        stale()
    with engine.connect() as conn:
        assert store.head_size(conn) == size + 2  # nothing of the failed append stayed
        assert audit_log(conn, keys.verifier).ok
