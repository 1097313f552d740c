"""Tampering with the stored log behind the ledger's back: the audit names the first bad index."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, text

from custodes.ledger import LedgerKeys, append_batch, append_event, audit_log, store
from custodes.ledger.accounting import EntryRow
from custodes.ledger.checkpoint import sign_checkpoint
from custodes.ledger.hasher import leaf_hashes
from custodes.ledger.tree import RightEdge

from .conftest import batch_entry, decision

Tamper = Callable[[Connection], None]


@pytest.fixture
def log(engine: Engine, keys: LedgerKeys) -> Engine:
    """600 decisions and a seal (size 601), then an event (602), then 3 more + seal (606)."""
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(600)])
    with engine.begin() as conn:
        append_event(conn, keys, {"event": "suspension"})
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B2"), [decision("B2", i) for i in range(3)])
    return engine


def _sql(statement: str, **params: object) -> Tamper:
    return lambda conn: conn.execute(text(statement), params)


def _swap(first: int, second: int) -> Tamper:
    def swap(conn: Connection) -> None:
        conn.execute(text("UPDATE ledger_entries SET idx = -1 WHERE idx = :a"), {"a": first})
        conn.execute(text("UPDATE ledger_entries SET idx = :a WHERE idx = :b"), {"a": first, "b": second})
        conn.execute(text("UPDATE ledger_entries SET idx = :b WHERE idx = -1"), {"b": second})

    return swap


def _insert_in_the_middle(at: int) -> Tamper:
    def insert(conn: Connection) -> None:
        for index in range(605, at - 1, -1):
            conn.execute(text("UPDATE ledger_entries SET idx = idx + 1 WHERE idx = :i"), {"i": index})
        store.insert_entries(conn, [(at, 2, None, None, b'{"event":"forged","type":"event","v":1}')])

    return insert


def _edit_tile(level: int, index: int, position: int) -> Tamper:
    def edit(conn: Connection) -> None:
        blob = bytearray(store.read_tiles(conn, {(level, index)})[(level, index)])
        blob[position * 32] ^= 1
        conn.execute(
            text("UPDATE ledger_tiles SET hashes = :h WHERE level = :l AND idx = :i"),
            {"h": bytes(blob), "l": level, "i": index},
        )

    return edit


def _forged_checkpoint(conn: Connection) -> None:
    forged = sign_checkpoint("custodes.test/log", 606, b"\0" * 32, Ed25519PrivateKey.generate())
    conn.execute(text("UPDATE ledger_checkpoints SET note = :n WHERE size = 606"), {"n": forged.note})


def _rewrite_everything_but_checkpoints(index: int, edit: Callable[[bytes], bytes]) -> Tamper:
    """A careful forger: edit an entry and recompute every stored hash to match."""

    def rewrite(conn: Connection) -> None:
        ((_, data),) = store.entry_range(conn, index, index + 1)
        conn.execute(
            text("UPDATE ledger_entries SET data = :d WHERE idx = :i"), {"d": edit(data), "i": index}
        )
        _rewrite_tiles(conn)

    return rewrite


def _rewrite_tiles(conn: Connection) -> None:
    data = [d for _, d in store.entry_range(conn, 0, 606)]
    edge = RightEdge(0, {})
    tiles = edge.append(leaf_hashes(data)) + edge.partial_tiles()
    conn.execute(store.tiles.delete())
    store.insert_tiles(conn, tiles)


CASES: dict[str, tuple[Tamper, int | None, str]] = {
    "edited entry": (
        _sql("UPDATE ledger_entries SET data = :d WHERE idx = 300", d=b'{"x":1}'),
        300,
        "modified",
    ),
    "deleted entry": (_sql("DELETE FROM ledger_entries WHERE idx = 250"), 250, "missing"),
    "swapped entries": (_swap(10, 20), 10, "modified or moved"),
    "truncated tail": (_sql("DELETE FROM ledger_entries WHERE idx >= 590"), 590, "not stored"),
    "appended entry": (
        lambda conn: store.insert_entries(
            conn, [(606, 2, None, None, b'{"event":"x","type":"event","v":1}')]
        ),
        606,
        "not covered",
    ),
    "inserted entry": (_insert_in_the_middle(5), 5, "modified or moved"),
    "taxpayer key changed": (
        _sql("UPDATE ledger_entries SET taxpayer_key = 1 WHERE idx = 7"),
        7,
        "lookup keys",
    ),
    "decision hidden from its batch": (
        _sql("UPDATE ledger_entries SET request_key = 1 WHERE idx = 8"),
        8,
        "lookup keys",
    ),
    "kind changed": (_sql("UPDATE ledger_entries SET kind = 1 WHERE idx = 9"), 9, "lookup keys"),
    "not json": (_rewrite_everything_but_checkpoints(11, lambda _: b"\xff"), 11, "not JSON"),
    "not an object": (_rewrite_everything_but_checkpoints(12, lambda _: b"[]"), 12, "not a JSON object"),
    "leaf hash tile deleted": (
        _sql("DELETE FROM ledger_tiles WHERE level = 0 AND idx = 1"),
        256,
        "modified or moved",
    ),
    "last leaf hash tile deleted": (
        _sql("DELETE FROM ledger_tiles WHERE level = 0 AND idx = 2"),
        512,
        "modified or moved",
    ),
    "second upper hash edited": (_edit_tile(1, 0, 1), 256, "stored tile 1/0"),
    "upper tile edited": (
        _sql("UPDATE ledger_tiles SET hashes = :h WHERE level = 1", h=b"\0" * 64),
        0,
        "stored tile 1/0",
    ),
    "entries and tiles rewritten": (
        _rewrite_everything_but_checkpoints(603, lambda d: d.replace(b'"match"', b'"no_match"')),
        602,
        "signed root of tree size 606",
    ),
    "checkpoint by another key": (_forged_checkpoint, None, "not valid"),
    "checkpoint row edited": (
        _sql("UPDATE ledger_checkpoints SET root_hash = :r WHERE size = 601", r=b"\0" * 32),
        None,
        "differs",
    ),
    "head row edited": (_sql("UPDATE ledger_head SET size = 7"), None, "head row"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_audit_catches_tampering(log: Engine, keys: LedgerKeys, case: str) -> None:
    tamper, index, message = CASES[case]
    with log.connect() as conn:
        assert audit_log(conn, keys.verifier).ok
    with log.begin() as conn:
        tamper(conn)
    with log.connect() as conn:
        result = audit_log(conn, keys.verifier)
    assert not result.ok
    assert result.first_bad_index == index, result.problem
    assert message in (result.problem or "")


def test_audit_of_a_sound_log_counts_everything(log: Engine, keys: LedgerKeys) -> None:
    with log.connect() as conn:
        result = audit_log(conn, keys.verifier)
    assert (result.ok, result.entries, result.checkpoints, result.problem) == (True, 606, 3, None)


def test_audit_with_another_key_rejects_every_checkpoint(log: Engine) -> None:
    other = LedgerKeys("custodes.test/log", Ed25519PrivateKey.generate(), b"\0" * 32)
    with log.connect() as conn:
        result = audit_log(conn, other.verifier)
    assert not result.ok
    assert "checkpoint of tree size 601 is not valid" in (result.problem or "")


def test_editing_the_sqlite_file_directly_is_caught(
    sqlite_engine: Engine, sqlite_url: str, keys: LedgerKeys
) -> None:
    with sqlite_engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(20)])
    sqlite_engine.dispose()
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as raw:
        raw.execute("UPDATE ledger_entries SET data = replace(data, 'match', 'no_match') WHERE idx = 12")
    with sqlite_engine.connect() as conn:
        result = audit_log(conn, keys.verifier)
    assert (result.ok, result.first_bad_index) == (False, 12)


def test_an_empty_log_passes_and_a_bogus_empty_checkpoint_fails(engine: Engine, keys: LedgerKeys) -> None:
    with engine.connect() as conn:
        assert audit_log(conn, keys.verifier).ok
    empty = sign_checkpoint(keys.origin, 0, b"\1" * 32, keys.signing_key)
    with engine.begin() as conn:
        store.insert_checkpoint(conn, empty)
    with engine.connect() as conn:
        assert "empty tree has a wrong root" in (audit_log(conn, keys.verifier).problem or "")


def test_full_upper_tiles_are_checked_too(sqlite_engine: Engine, keys: LedgerKeys) -> None:
    # 65,536 leaves fill level-1 tile 0; a forger who edits one of its hashes is caught.
    with sqlite_engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(65_536)])
        _edit_tile(1, 0, 3)(conn)
    with sqlite_engine.connect() as conn:
        result = audit_log(conn, keys.verifier)
    assert (result.first_bad_index, result.problem) == (
        768,
        "stored tile 1/0 does not match the entries from 768 on",
    )


def test_a_batch_committed_during_the_audit_is_not_mistaken_for_tampering(
    log: Engine, keys: LedgerKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_rows = store.iter_entry_rows

    def commit_meanwhile(conn: Connection) -> Iterator[list[EntryRow]]:
        # The checkpoints are read; now the gateway commits another batch.
        name = f"B{len(appended) + 3}"
        with log.begin() as other:
            append_batch(other, keys, batch_entry(name), [decision(name, 0)])
        appended.append(1)
        return read_rows(conn)

    monkeypatch.setattr(store, "iter_entry_rows", commit_meanwhile)
    appended: list[int] = []
    with store.snapshot(log) as conn:
        result = audit_log(conn, keys.verifier)
    assert (result.ok, result.entries, result.problem) == (True, 606, None)
    # Without one snapshot the audit sees entries its checkpoints (read before) do not cover.
    with log.connect() as conn:
        result = audit_log(conn, keys.verifier)
    assert (result.ok, result.first_bad_index) == (False, 608)
    assert "not covered by any checkpoint" in (result.problem or "")
