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
