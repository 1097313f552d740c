from __future__ import annotations

from sqlalchemy import inspect

from custodes.store import connect, upgrade


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
