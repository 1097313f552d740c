"""Fixtures for the accounting log: keys, a migrated store on SQLite and PostgreSQL, decisions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from custodes.ledger import DecisionEntry, LedgerKeys, create_keys, load_keys
from custodes.store import connect, upgrade

ORIGIN = "custodes.test/log"
AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def decision(batch: str, i: int, *, tin: str | None = "default", outcome: str = "match") -> DecisionEntry:
    """A deterministic decision: request ``R{i}`` of ``batch``; TIN derived from ``i``."""
    return DecisionEntry(
        batch_id=batch,
        request_id=f"R{i:07d}",
        agency="Department of Homeland Security",
        basis="26 USC 6103(i)(2)",
        outcome=outcome,
        reason="matched" if outcome == "match" else "no_candidate",
        profile="verify_only",
        disclosed_sha256=hashlib.sha256(f"{batch}/{i}".encode()).hexdigest(),
        tin=f"{i % 1000:09d}" if tin == "default" else tin,
        at=AT,
    )


def batch_entry(batch: str) -> dict[str, object]:
    """The batch entry the gateway would hand over."""
    return {
        "batch_id": batch,
        "agency": "Department of Homeland Security",
        "basis": "26 USC 6103(i)(2)",
        "manifest_sha256": hashlib.sha256(batch.encode()).hexdigest(),
        "signer": "Secretary of Homeland Security",
        "at": AT,
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """custodes' home directory with the ledger keys created."""
    create_keys(tmp_path, ORIGIN)
    return tmp_path


@pytest.fixture
def keys(home: Path) -> LedgerKeys:
    """The ledger keys of ``home``."""
    return load_keys(home, ORIGIN)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated store, on SQLite and on real PostgreSQL."""
    upgrade(store_url)
    eng = connect(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite store (for tests that edit the file behind the ledger's back)."""
    upgrade(sqlite_url)
    eng = connect(sqlite_url)
    yield eng
    eng.dispose()
