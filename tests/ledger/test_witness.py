"""The tlog-witness: it cosigns consistent growth and refuses everything else with the spec's codes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.errors import LedgerError
from custodes.ledger.checkpoint import SignedCheckpoint, sign_checkpoint
from custodes.ledger.note import sign_note, verifier_for
from custodes.ledger.proof import consistency_proof
from custodes.ledger.verify import EMPTY_ROOT, MalformedNoteError, open_note
from custodes.ledger.witness import (
    SIZE_CONTENT_TYPE,
    Witness,
    WitnessStore,
    format_request,
    load_or_create_witness_key,
    parse_request,
    witness_app,
)

from .asgi import call
from .reference import MemoryNodes, mth

ORIGIN = "custodes.test/log"
LOG_KEY = Ed25519PrivateKey.generate()
TRUNK = [f"entry {i}".encode() for i in range(40)]
FORK = TRUNK[:10] + [f"forged {i}".encode() for i in range(30)]


def checkpoint(leaves: list[bytes], size: int, key: Ed25519PrivateKey = LOG_KEY) -> SignedCheckpoint:
    return sign_checkpoint(ORIGIN, size, mth(leaves[:size]), key)


def request(leaves: list[bytes], old: int, size: int, key: Ed25519PrivateKey = LOG_KEY) -> bytes:
    proof = consistency_proof(old, size, MemoryNodes(leaves)) if 0 < old < size else []
    return format_request(old, proof, checkpoint(leaves, size, key).note)


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    key = load_or_create_witness_key(tmp_path, "oversight.test/witness")
    return Witness(
        "oversight.test/witness",
        key,
        [verifier_for(ORIGIN, LOG_KEY)],
        WitnessStore(tmp_path / "state"),
        clock=lambda: 1700000000.0,
    )


def test_consistent_growth_is_cosigned(witness: Witness) -> None:
    first = witness.add_checkpoint(request(TRUNK, 0, 12))
    assert first.status == 200
    note = checkpoint(TRUNK, 12).note + first.body
    opened = open_note(note.encode(), [witness.verifier])
    assert opened.signatures[0].name == "oversight.test/witness"
    assert witness.add_checkpoint(request(TRUNK, 12, 30)).status == 200
    assert witness.add_checkpoint(request(TRUNK, 30, 30)).status == 200


def test_a_split_view_is_refused(witness: Witness) -> None:
    assert witness.add_checkpoint(request(TRUNK, 0, 20)).status == 200
    # The fork shares the first 10 entries; no honest proof joins it to what was cosigned.
    reply = witness.add_checkpoint(request(FORK, 20, 30))
    assert (reply.status, "consistency proof") == (422, reply.body[: len("consistency proof")])
    same_size = witness.add_checkpoint(request(FORK, 20, 20))
    assert same_size.status == 422
    assert "fork" in same_size.body
    # The witness still follows the honest log.
    assert witness.add_checkpoint(request(TRUNK, 20, 25)).status == 200


def test_a_checkpoint_with_a_bad_signature_is_refused(witness: Witness) -> None:
    other_key = witness.add_checkpoint(request(TRUNK, 0, 5, key=Ed25519PrivateKey.generate()))
    assert other_key.status == 403
    good = checkpoint(TRUNK, 5).note
    tampered = good.replace("\n5\n", "\n6\n", 1)
    assert witness.add_checkpoint(format_request(0, [], tampered)).status == 403


def test_an_inconsistent_proof_is_refused(witness: Witness) -> None:
    assert witness.add_checkpoint(request(TRUNK, 0, 8)).status == 200
    proof = consistency_proof(8, 16, MemoryNodes(TRUNK))
    proof[0] = bytes(32)
    reply = witness.add_checkpoint(format_request(8, proof, checkpoint(TRUNK, 16).note))
    assert reply.status == 422


def test_a_stale_old_size_gets_409_with_the_latest_size(witness: Witness) -> None:
    assert witness.add_checkpoint(request(TRUNK, 0, 8)).status == 200
    reply = witness.add_checkpoint(request(TRUNK, 0, 16))
    assert (reply.status, reply.body, reply.content_type) == (409, "8\n", SIZE_CONTENT_TYPE)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (request(TRUNK, 9, 8), 400),
        (format_request(0, [bytes(32)], checkpoint(TRUNK, 8).note), 422),
        (format_request(0, [], sign_checkpoint(ORIGIN, 0, b"\1" * 32, LOG_KEY).note), 422),
        (format_request(0, [], sign_checkpoint(ORIGIN, 0, EMPTY_ROOT, LOG_KEY).note), 200),
        (format_request(0, [], sign_checkpoint("other.test/log", 3, bytes(32), LOG_KEY).note), 404),
        (b"old 0\n\nnot a note", 404),
        (b"hello", 400),
        (b"old 01\n\n", 400),
        (b"old x\n\n", 400),
        (b"old 0\n" + b"AAAA\n" * 64 + b"\n", 400),
        (b"old 0\n!!\n\n", 400),
        (b"old 0\n\n\xff", 400),
        (
            format_request(
                0, [], ORIGIN + "\n5\nnot-base64\n\n" + checkpoint(TRUNK, 5).note.split("\n\n")[1]
            ),
            403,
        ),
    ],
    ids=[
        "old-beyond-size",
        "proof-from-zero",
        "size-zero-wrong-root",
        "size-zero-empty-root",
        "unknown-origin",
        "unknown-origin-garbage",
        "no-old-line",
        "old-leading-zero",
        "old-not-decimal",
        "too-many-proof-lines",
        "proof-not-base64",
        "note-not-utf8",
        "bad-body-signature",
    ],
)
def test_refusals_use_the_spec_status_codes(witness: Witness, body: bytes, status: int) -> None:
    assert witness.add_checkpoint(body).status == status


def test_a_malformed_note_or_checkpoint_is_a_bad_request(witness: Witness) -> None:
    assert witness.add_checkpoint(format_request(0, [], ORIGIN + "\n5\n")).status == 400
    two_lines = ORIGIN + "\n5\n"
    signed = sign_note(two_lines, ORIGIN, LOG_KEY)
    assert witness.add_checkpoint(format_request(0, [], signed)).status == 400


def test_concurrent_submissions_cannot_roll_the_witness_back(witness: Witness) -> None:
    assert witness.add_checkpoint(request(TRUNK, 0, 4)).status == 200
    statuses: list[int] = []
    bodies = [request(TRUNK, 4, size) for size in (10, 20, 30, 39)]
    threads = [
        threading.Thread(target=lambda b=b: statuses.append(witness.add_checkpoint(b).status)) for b in bodies
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409]


def test_the_witness_state_survives_a_restart(tmp_path: Path, witness: Witness) -> None:
    assert witness.add_checkpoint(request(TRUNK, 0, 7)).status == 200
    key = load_or_create_witness_key(tmp_path, "oversight.test/witness")
    again = Witness(
        "oversight.test/witness", key, [verifier_for(ORIGIN, LOG_KEY)], WitnessStore(tmp_path / "state")
    )
    assert again.verifier == witness.verifier
    assert again.add_checkpoint(request(TRUNK, 0, 9)).body == "7\n"
    with pytest.raises(LedgerError, match="holds the key of witness"):
        load_or_create_witness_key(tmp_path, "someone.else/witness")


def test_the_http_app_speaks_the_protocol(witness: Witness) -> None:
    app = witness_app(witness)
    ok = call(app, "POST", "/add-checkpoint", request(TRUNK, 0, 3))
    assert ok.status_code == 200
    assert ok.text.startswith("— oversight.test/witness ")
    conflict = call(app, "POST", "/add-checkpoint", request(TRUNK, 0, 3))
    assert (conflict.status_code, conflict.headers["content-type"], conflict.text) == (
        409,
        SIZE_CONTENT_TYPE,
        "3\n",
    )
    assert call(app, "POST", "/add-checkpoint", b"x" * ((1 << 20) + 1)).status_code == 413
    assert call(app, "GET", "/add-checkpoint").status_code == 405


def test_request_bodies_round_trip() -> None:
    proof = consistency_proof(3, 9, MemoryNodes(TRUNK))
    parsed = parse_request(format_request(3, proof, "note\n"))
    assert (parsed.old, list(parsed.proof), parsed.note) == (3, proof, b"note\n")
    with pytest.raises(MalformedNoteError):
        parse_request(b"old 1\n")
