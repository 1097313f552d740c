from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect

from custodes.store import connect, upgrade
from custodes.store.engine import WRITER_LOCK_SUFFIX, writer_turn


def _tables(url: str) -> set[str]:
    engine = connect(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_on_both_stores(store_url: str) -> None:
    upgrade(store_url)
    assert {"batches", "requests", "decisions", "master_loads", "alembic_version"} <= _tables(store_url)


def test_upgrade_is_idempotent(store_url: str) -> None:
    upgrade(store_url)
    upgrade(store_url)
    assert "batches" in _tables(store_url)


def test_budget_keys_survive_the_rebuild_without_rowid_and_back(store_url: str) -> None:
    """Migration 0006: on SQLite the key table becomes WITHOUT ROWID, keeping every key."""
    from alembic import command
    from sqlalchemy import text

    from custodes.store.engine import alembic_config

    upgrade(store_url, "0005")
    engine = connect(store_url)
    rows = [("A", -(2**63), "B1", 1), ("A", 2**63 - 1, "B1", 2), ("Z", 0, "B2", 1)]
    insert = text("INSERT INTO oversight_budget_keys VALUES (:a, :k, :b, :r)")
    select = text("SELECT agency, subject_key, batch_id, row_number FROM oversight_budget_keys ORDER BY 1, 2")
    sqlite = engine.dialect.name == "sqlite"

    def ddl() -> str:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'oversight_budget_keys'"))
            return str(found.scalar_one())

    try:
        with engine.begin() as conn:
            conn.execute(insert, [dict(zip("akbr", r, strict=True)) for r in rows])
        upgrade(store_url)
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(select)] == sorted(rows)
        if sqlite:
            assert "WITHOUT ROWID" in ddl()
        command.downgrade(alembic_config(store_url), "0005")
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(select)] == sorted(rows)
        if sqlite:
            assert "WITHOUT ROWID" not in ddl()
        upgrade(store_url)
    finally:
        engine.dispose()


def _waits_for_turn(engine: Engine, entered: threading.Event, leave: threading.Event) -> None:
    with writer_turn(engine):
        entered.set()
        leave.wait(10)


def test_a_sqlite_writer_waits_for_the_one_holding_its_turn_and_goes_as_soon_as_it_lets_go(
    tmp_path: Path,
) -> None:
    """``writer_turn`` is an exclusive lock on a file beside the store: a second writer (here a
    thread; each call opens the file anew, so processes behave alike) enters only after the
    first has left, and without SQLite's busy-handler sleeps."""
    engine = connect(f"sqlite:///{tmp_path / 'custodes.sqlite'}")
    try:
        first_in, first_out = threading.Event(), threading.Event()
        second_in, second_out = threading.Event(), threading.Event()
        first = threading.Thread(target=_waits_for_turn, args=(engine, first_in, first_out))
        first.start()
        assert first_in.wait(10)
        second = threading.Thread(target=_waits_for_turn, args=(engine, second_in, second_out))
        second.start()
        assert not second_in.wait(0.3), "the second writer entered while the first held the turn"
        first_out.set()
        first.join(10)
        left = time.monotonic()
        assert second_in.wait(10), "the second writer never got its turn"
        assert time.monotonic() - left < 0.5
        second_out.set()
        second.join(10)
        assert (tmp_path / f"custodes.sqlite{WRITER_LOCK_SUFFIX}").exists()
        with writer_turn(engine):  # free again once both have left
            pass
    finally:
        engine.dispose()


def test_writer_turn_takes_no_file_for_postgresql_or_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite://", "sqlite:///:memory:", "postgresql+psycopg://nobody@127.0.0.1:1/none"):
        engine = create_engine(url)
        try:
            with writer_turn(engine), writer_turn(engine):  # no lock: nested turns do not wait
                pass
        finally:
            engine.dispose()
    assert list(tmp_path.iterdir()) == []
