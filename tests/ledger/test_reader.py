"""Reading the log back: proofs by request, a taxpayer's accounting, consistency."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from custodes.errors import LedgerError
from custodes.ledger import (
    LedgerKeys,
    accounting_for,
    append_batch,
    append_event,
    consistency_between,
    latest_checkpoint,
    prove_index,
    prove_request,
    store,
)
from custodes.ledger.verify import (
    VerificationError,
    verify_accounting_bundle,
    verify_consistency_bundle,
    verify_inclusion_bundle,
)

from .conftest import batch_entry, decision


@pytest.fixture
def filled(engine: Engine, keys: LedgerKeys) -> Engine:
    """Two batches and two events: B1 has 300 decisions, B2 has 5 (TINs repeat every 1000)."""
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(300)])
    with engine.begin() as conn:
        append_event(
            conn, keys, {"event": "release", "batch_id": "B1", "request_id": "R0000007", "tin": "000000007"}
        )
    with engine.begin() as conn:
        # Filed under the batch's own key, beside its sealing entry.
        append_event(conn, keys, {"event": "batch_reviewed", "batch_id": "B1"})
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B2"), [decision("B2", i) for i in range(5)])
    return engine


def test_a_decision_is_proven_by_batch_and_request(filled: Engine, keys: LedgerKeys) -> None:
    with filled.connect() as conn:
        bundle = prove_request(conn, keys.origin, "B1", "R0000007")
    assert set(bundle) == {"leaf_index", "tree_size", "entry_b64", "inclusion_path", "checkpoint"}
    assert (bundle["leaf_index"], bundle["tree_size"]) == (7, 309)
    entry = json.loads(verify_inclusion_bundle(bundle, keys.verifier))
    assert (entry["type"], entry["request_id"]) == ("decision", "R0000007")
    with filled.connect() as conn:
        assert prove_request(conn, keys.origin, "B2", "R0000004")["leaf_index"] == 307


def test_a_proof_for_a_different_entry_does_not_verify(filled: Engine, keys: LedgerKeys) -> None:
    with filled.connect() as conn:
        bundle = prove_request(conn, keys.origin, "B1", "R0000007")
        other = prove_index(conn, keys.origin, 8)
    with pytest.raises(VerificationError):
        verify_inclusion_bundle({**bundle, "entry_b64": other["entry_b64"]}, keys.verifier)


def test_unknown_requests_and_entries_are_reported(filled: Engine, keys: LedgerKeys) -> None:
    with filled.connect() as conn:
        with pytest.raises(LedgerError, match="no decision on request"):
            prove_request(conn, keys.origin, "B1", "R9999999")
        with pytest.raises(LedgerError, match="no decision on request"):
            prove_request(conn, keys.origin, "B3", "R0000001")
        with pytest.raises(LedgerError, match="not in the log"):
            prove_index(conn, keys.origin, 309)


def test_the_same_batch_id_from_two_agencies_needs_the_agency(engine: Engine, keys: LedgerKeys) -> None:
    for agency in ("Department of Justice", "Department of Homeland Security"):
        with engine.begin() as conn:
            append_batch(
                conn,
                keys,
                {**batch_entry("B1"), "agency": agency},
                [replace(decision("B1", 1), agency=agency)],
            )
    with engine.connect() as conn:
        with pytest.raises(LedgerError, match="name the agency"):
            prove_request(conn, keys.origin, "B1", "R0000001")
        bundle = prove_request(conn, keys.origin, "B1", "R0000001", agency="Department of Justice")
    assert bundle["leaf_index"] == 0


def test_a_taxpayers_accounting_lists_every_act_with_proofs(filled: Engine, keys: LedgerKeys) -> None:
    with filled.connect() as conn:
        bundle = accounting_for(conn, keys, "000-00-0007")
    acts = verify_accounting_bundle(bundle, keys.verifier)
    assert [(a["type"], a.get("batch_id"), a.get("request_id")) for a in acts] == [
        ("decision", "B1", "R0000007"),
        ("event", "B1", "R0000007"),
    ]
    assert "000000007" not in json.dumps(bundle)
    with filled.connect() as conn:
        assert accounting_for(conn, keys, "999999999")["acts"] == []


def test_accounting_bundles_are_checked_against_the_commitment(filled: Engine, keys: LedgerKeys) -> None:
    with filled.connect() as conn:
        bundle = accounting_for(conn, keys, "000000007")
        other = accounting_for(conn, keys, "000000008")
    with pytest.raises(VerificationError, match="not about taxpayer"):
        verify_accounting_bundle({**bundle, "acts": other["acts"]}, keys.verifier)


def test_consistency_between_any_two_sizes(filled: Engine, keys: LedgerKeys) -> None:
    with filled.connect() as conn:
        bundle = consistency_between(conn, keys.origin, 301, None)
        partial = consistency_between(conn, keys.origin, 17, 200)
    old, new = verify_consistency_bundle(bundle, keys.verifier)
    assert (old.size, new.size) == (301, 309)
    assert (partial["checkpoint_from"], partial["checkpoint_to"]) == (None, None)
    assert len(partial["proof"]) > 0  # type: ignore[arg-type]
    with filled.connect() as conn:
        for sizes in ((0, 5), (5, 4), (5, 310)):
            with pytest.raises(LedgerError, match="sizes must satisfy"):
                consistency_between(conn, keys.origin, *sizes)


def test_an_empty_log_has_no_checkpoint(engine: Engine, keys: LedgerKeys) -> None:
    with engine.connect() as conn, pytest.raises(LedgerError, match="log is empty"):
        latest_checkpoint(conn, keys.origin)


def test_proofs_from_damaged_tiles_say_so(filled: Engine, keys: LedgerKeys) -> None:
    with filled.begin() as conn:
        conn.execute(store.tiles.delete())
    with filled.connect() as conn, pytest.raises(LedgerError, match="stored tiles are damaged"):
        prove_index(conn, keys.origin, 3)
