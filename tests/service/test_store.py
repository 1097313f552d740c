"""Migration 0003_service on both stores: the tables it creates, and down and up again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from custodes.store import connect, upgrade
from custodes.store.engine import alembic_config

SERVICE_TABLES = {"agencies", "staff", "api_keys", "standing_bases", "idempotency_keys"}
WORKFLOW_COLUMNS = {
    "public_id",
    "submitted_by",
    "submitted_key",
    "released_by",
    "released_at",
    "attempts",
    "lease_until",
    "error",
    "files_dir",
}


def _shape(url: str) -> tuple[set[str], set[str]]:
    engine = connect(url)
    try:
        found = inspect(engine)
        return set(found.get_table_names()), {c["name"] for c in found.get_columns("batches")}
    finally:
        engine.dispose()


def test_0003_service_creates_the_service_tables_and_goes_down_and_up_again(store_url: str) -> None:
    upgrade(store_url)
    tables, columns = _shape(store_url)
    assert tables >= SERVICE_TABLES
    assert columns >= WORKFLOW_COLUMNS
    command.downgrade(alembic_config(store_url), "0002")
    tables, columns = _shape(store_url)
    assert not SERVICE_TABLES & tables
    assert not WORKFLOW_COLUMNS & columns
    assert "ledger_entries" in tables
    upgrade(store_url)
    assert _shape(store_url)[0] >= SERVICE_TABLES
