"""Suspending a basis or an agency: refused whole from then on, unreleased batches held, all logged."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from custodes import Gateway, UserInputError
from custodes.ledger import load_keys
from custodes.ledger.audit import audit_log
from custodes.ledger.store import entry_range, head_size
from custodes.oversight import hooks
from custodes.oversight.suspension import active_suspensions, lift, list_suspensions, suspend
from custodes.oversight.tables import holds
from custodes.store import connect
from custodes.store.schema import batches
from tests.oversight.conftest import DHS, I2, NOW, decisions_of, submit

ROWS = [["R1", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""]]
DOJ = "Department of Justice"


@pytest.fixture
def engine(gateway: Gateway) -> Engine:
    eng = connect(gateway.settings.store_url)
    yield eng  # type: ignore[misc]
    eng.dispose()


def _status(engine: Engine, batch_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(batches.c.status).where(batches.c.batch_id == batch_id)).scalar_one())


def _suspend(gateway: Gateway, engine: Engine, **scope: str | None) -> int:
    keys = load_keys(gateway.settings.home, gateway.settings.log_origin)
    with engine.begin() as conn:
        done = suspend(
            conn, keys, agency=scope.get("agency"), legal_basis=scope.get("basis"), reason="misuse found",
            reference="TIGTA 2026-14", by="J. Doe, oversight", at=NOW + timedelta(hours=1),
        )  # fmt: skip
    return done.id


def _lift(gateway: Gateway, engine: Engine, suspension_id: int) -> None:
    keys = load_keys(gateway.settings.home, gateway.settings.log_origin)
    with engine.begin() as conn:
        lift(conn, keys, suspension_id, reason="plan accepted", reference="TIGTA 2026-14/2", by="J. Doe",
             at=NOW + timedelta(hours=3))  # fmt: skip


def test_a_suspended_basis_refuses_the_next_batch_whole_and_holds_the_unreleased_one(
    gateway: Gateway, engine: Engine, tmp_path: Path
) -> None:
    submit(gateway, tmp_path, "B-BEFORE", ROWS)
    size_before = head_size(engine.connect())
    sid = _suspend(gateway, engine, agency=DHS, basis=I2)
    assert _status(engine, "B-BEFORE") == "held"

    after = submit(gateway, tmp_path, "B-AFTER", ROWS, now=NOW + timedelta(hours=2))
    assert after.batch_reason == "basis_suspended"
    assert {r["reason"] for r in decisions_of(after).values()} == {"basis_suspended"}
    other = submit(gateway, tmp_path, "DOJ-1", ROWS, now=NOW + timedelta(hours=2), agency=DOJ,
                   signed_by={"name": "A. Synthetic", "title": "Attorney General"})  # fmt: skip
    assert other.batch_reason is None, "another agency under the same basis is not affected"

    _lift(gateway, engine, sid)
    assert _status(engine, "B-BEFORE") == "decided"
    assert submit(gateway, tmp_path, "B-LATER", ROWS, now=NOW + timedelta(hours=4)).batch_reason is None

    keys = load_keys(gateway.settings.home, gateway.settings.log_origin)
    with engine.connect() as conn:
        assert audit_log(conn, keys.verifier).ok
        events = [json.loads(d) for _, d in entry_range(conn, size_before, head_size(conn))]
    kinds = [e.get("event") for e in events if e["type"] == "event"]
    assert kinds == ["basis_suspended", "basis_lifted"]
    suspended = next(e for e in events if e.get("event") == "basis_suspended")
    assert suspended["held_batches"] == [{"agency": DHS, "batch_id": "B-BEFORE"}]
    assert suspended["reference"] == "TIGTA 2026-14"


def test_an_agency_suspension_covers_every_basis_and_overlapping_holds_pass_on(
    gateway: Gateway, engine: Engine, tmp_path: Path
) -> None:
    submit(gateway, tmp_path, "B-1", ROWS)
    first = _suspend(gateway, engine, agency=DHS)
    second = _suspend(gateway, engine, basis=I2)
    with engine.connect() as conn:
        assert len(active_suspensions(conn, DHS, "26 USC 6103(i)(1)")) == 1
        assert len(active_suspensions(conn, DOJ, I2)) == 1
    _lift(gateway, engine, first)
    assert _status(engine, "B-1") == "held", "the basis suspension still covers the batch"
    _lift(gateway, engine, second)
    assert _status(engine, "B-1") == "decided"
    with engine.connect() as conn:
        assert [h.lifted_at is not None for h in conn.execute(select(holds)).all()] == [True, True]
        assert list_suspensions(conn, active_only=True) == []


def test_a_suspension_recorded_while_a_batch_is_processed_holds_it_at_commit(
    gateway: Gateway, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suspend(gateway, engine, agency=DHS)
    # the batch's legal check ran before the suspension was recorded
    monkeypatch.setattr(hooks.BatchOversight, "suspended_bases", lambda self: frozenset())
    result = submit(gateway, tmp_path, "B-RACE", ROWS)
    assert result.batch_reason is None
    assert _status(engine, "B-RACE") == "held"


def test_bad_suspensions_and_lifts_are_refused_with_what_to_do(gateway: Gateway, engine: Engine) -> None:
    keys = load_keys(gateway.settings.home, gateway.settings.log_origin)
    with engine.begin() as conn, pytest.raises(UserInputError, match="needs a scope"):
        suspend(conn, keys, agency=" ", legal_basis=None, reason="r", reference="x", by="b", at=NOW)
    with engine.begin() as conn, pytest.raises(UserInputError, match="reason is required"):
        suspend(conn, keys, agency=DHS, legal_basis=None, reason="  ", reference="x", by="b", at=NOW)
    with engine.begin() as conn, pytest.raises(UserInputError, match="no suspension 99"):
        lift(conn, keys, 99, reason="r", reference="x", by="b", at=NOW)
    sid = _suspend(gateway, engine, agency=DHS)
    _lift(gateway, engine, sid)
    with engine.begin() as conn, pytest.raises(UserInputError, match="already lifted"):
        lift(conn, keys, sid, reason="r", reference="x", by="b", at=NOW)
