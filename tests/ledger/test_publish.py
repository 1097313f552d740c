"""Publishing checkpoints to witnesses; a checkpoint is final once a quorum cosigned it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from custodes.config import WitnessingConfig, WitnessPeer
from custodes.errors import LedgerError
from custodes.ledger import LedgerKeys, append_batch, append_event, store
from custodes.ledger.note import verifier_for
from custodes.ledger.publish import configured_witnesses, cosigned_note, publish
from custodes.ledger.verify import ALG_COSIGNATURE_V1, open_note
from custodes.ledger.witness import (
    Submission,
    Witness,
    WitnessConfig,
    WitnessStore,
    submit,
)

from .conftest import batch_entry, decision


def _witness(tmp_path: Path, name: str, keys: LedgerKeys) -> Witness:
    return Witness(
        name, Ed25519PrivateKey.generate(), [keys.verifier], WitnessStore(tmp_path / name.replace("/", "_"))
    )


def _local(witnesses: dict[str, Witness]) -> Callable[[str, bytes], Submission]:
    def send(url: str, body: bytes) -> Submission:
        reply = witnesses[url].add_checkpoint(body)
        return Submission(reply.status, reply.body)

    return send


def _config(witnesses: dict[str, Witness]) -> list[WitnessConfig]:
    return [WitnessConfig(w.verifier, url) for url, w in witnesses.items()]


def _append(engine: Engine, keys: LedgerKeys, batch: str, count: int) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry(batch), [decision(batch, i) for i in range(count)])


def test_a_quorum_of_cosignatures_makes_a_checkpoint_final(
    engine: Engine, keys: LedgerKeys, tmp_path: Path
) -> None:
    witnesses = {f"http://w{i}": _witness(tmp_path, f"oversight.test/w{i}", keys) for i in range(3)}
    _append(engine, keys, "B1", 10)
    first = publish(engine, keys.origin, _config(witnesses), 2, send=_local(witnesses))
    assert (first.final, first.cosigners, [o.current for o in first.outcomes]) == (True, 3, [True] * 3)
    _append(engine, keys, "B2", 300)
    second = publish(engine, keys.origin, _config(witnesses), 3, send=_local(witnesses))
    assert second.final
    note = cosigned_note(engine, keys.origin)
    opened = open_note(note.encode(), [keys.verifier, *(w.verifier for w in witnesses.values())])
    assert len(opened.signatures) == 4
    assert second.checkpoint.size == 312


def test_publishing_recovers_when_a_witness_knows_a_newer_size(
    engine: Engine, keys: LedgerKeys, tmp_path: Path
) -> None:
    witness = _witness(tmp_path, "oversight.test/w", keys)
    witnesses = {"http://w": witness}
    _append(engine, keys, "B1", 5)
    publish(engine, keys.origin, _config(witnesses), 1, send=_local(witnesses))
    with engine.begin() as conn:
        conn.execute(store.cosignatures.delete())  # we lost track of what it cosigned
    _append(engine, keys, "B2", 5)
    result = publish(engine, keys.origin, _config(witnesses), 1, send=_local(witnesses))
    assert result.final, result.outcomes


def test_refusals_and_bad_cosignatures_do_not_count(engine: Engine, keys: LedgerKeys, tmp_path: Path) -> None:
    stranger = LedgerKeys(keys.origin, Ed25519PrivateKey.generate(), b"")
    refusing = Witness(
        "oversight.test/r", Ed25519PrivateKey.generate(), [stranger.verifier], WitnessStore(tmp_path / "r")
    )
    liar_key = verifier_for("oversight.test/liar", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)
    replies = {
        "http://liar": Submission(200, "— oversight.test/liar AAAA\n"),
        "http://ahead": Submission(409, "999\n"),
    }

    def send(url: str, body: bytes) -> Submission:
        if url == "http://r":
            reply = refusing.add_checkpoint(body)
            return Submission(reply.status, reply.body)
        return replies[url]

    _append(engine, keys, "B1", 5)
    configs = [
        WitnessConfig(refusing.verifier, "http://r"),
        WitnessConfig(liar_key, "http://liar"),
        WitnessConfig(
            verifier_for("oversight.test/ahead", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1),
            "http://ahead",
        ),
    ]
    result = publish(engine, keys.origin, configs, 1, send=send)
    messages = [o.message for o in result.outcomes]
    assert not result.final
    assert "HTTP 403" in messages[0]
    assert "invalid cosignature" in messages[1]
    assert "beyond our log" in messages[2]


def _cosigned_sizes(engine: Engine, witness: Witness) -> list[int]:
    with engine.connect() as conn:
        notes = store.all_checkpoint_notes(conn)
        return [size for size, _, _ in notes if witness.name in store.cosignature_lines(conn, size)]


def test_every_checkpoint_not_yet_cosigned_is_delivered_oldest_first(
    engine: Engine, keys: LedgerKeys, tmp_path: Path
) -> None:
    witness = _witness(tmp_path, "oversight.test/w", keys)
    witnesses = {"http://w": witness}
    sent: list[bytes] = []

    def send(url: str, body: bytes) -> Submission:
        sent.append(body)
        return _local(witnesses)(url, body)

    for batch, count in (("B1", 10), ("B2", 300), ("B3", 1)):
        _append(engine, keys, batch, count)
    result = publish(engine, keys.origin, _config(witnesses), 1, send=send)
    assert result.final
    (outcome,) = result.outcomes
    assert (outcome.cosigned, outcome.skipped, outcome.current) == ((11, 312, 314), 0, True)
    assert [body.split(b"\n", 1)[0] for body in sent] == [b"old 0", b"old 11", b"old 312"]
    assert _cosigned_sizes(engine, witness) == [11, 312, 314]
    # Each checkpoint, as handed out with its batch, now verifies with the witness's cosignature.
    with engine.connect() as conn:
        for size, _, note in store.all_checkpoint_notes(conn):
            line = store.cosignature_lines(conn, size)[witness.name]
            opened = open_note((note + line).encode(), [keys.verifier, witness.verifier])
            assert len(opened.signatures) == 2
    with engine.begin() as conn:
        append_event(conn, keys, {"event": "suspension"})
    _append(engine, keys, "B4", 2)
    again = publish(engine, keys.origin, _config(witnesses), 1, send=send)
    assert again.outcomes[0].cosigned == (315, 318)
    idle = publish(engine, keys.origin, _config(witnesses), 1, send=send)
    assert (idle.final, idle.outcomes[0].cosigned, idle.outcomes[0].message) == (
        True,
        (),
        "had already cosigned the newest checkpoint",
    )


def test_checkpoints_a_witness_has_moved_past_are_skipped(
    engine: Engine, keys: LedgerKeys, tmp_path: Path
) -> None:
    witness = _witness(tmp_path, "oversight.test/w", keys)
    witnesses = {"http://w": witness}
    _append(engine, keys, "B1", 3)
    _append(engine, keys, "B2", 3)
    publish(engine, keys.origin, _config(witnesses), 1, send=_local(witnesses))
    with engine.begin() as conn:
        conn.execute(store.cosignatures.delete())  # we lost track of what it cosigned
    _append(engine, keys, "B3", 3)
    result = publish(engine, keys.origin, _config(witnesses), 1, send=_local(witnesses))
    (outcome,) = result.outcomes
    # Size 4 can no longer be submitted (the witness is at 8); 8 is resubmitted at its own size.
    assert (outcome.cosigned, outcome.skipped, result.final) == ((8, 12), 1, True)
    assert "1 it had already passed" in outcome.message


def test_a_refusal_midway_keeps_what_was_cosigned(engine: Engine, keys: LedgerKeys, tmp_path: Path) -> None:
    witness = _witness(tmp_path, "oversight.test/w", keys)
    calls: list[int] = []

    def flaky(url: str, body: bytes) -> Submission:
        calls.append(1)
        if len(calls) == 2:
            return Submission(503, "overloaded")
        reply = witness.add_checkpoint(body)
        return Submission(reply.status, reply.body)

    for batch in ("B1", "B2", "B3"):
        _append(engine, keys, batch, 2)
    result = publish(engine, keys.origin, _config({"http://w": witness}), 1, send=flaky)
    (outcome,) = result.outcomes
    assert (outcome.cosigned, outcome.current, result.final) == ((3,), False, False)
    assert outcome.message == "refused tree size 6 with HTTP 503: overloaded (after cosigning 1)"
    retry = publish(engine, keys.origin, _config({"http://w": witness}), 1, send=flaky)
    assert (retry.outcomes[0].cosigned, retry.final) == ((6, 9), True)


def test_the_settings_name_the_witnesses_and_the_quorum() -> None:
    first = verifier_for("oversight.test/w1", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)
    second = verifier_for("oversight.test/w2", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1)
    peers = (WitnessPeer(first.vkey, "https://w1.example"), WitnessPeer(second.vkey, "https://w2.example"))
    witnesses, quorum = configured_witnesses(WitnessingConfig(peers))
    assert ([w.verifier.vkey for w in witnesses], [w.url for w in witnesses], quorum) == (
        [first.vkey, second.vkey],
        ["https://w1.example", "https://w2.example"],
        2,
    )
    assert configured_witnesses(WitnessingConfig(peers, quorum=1))[1] == 1
    with pytest.raises(LedgerError, match="no witnesses are configured"):
        configured_witnesses(WitnessingConfig())


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 200 if body.startswith(b"old 0\n") else 409
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok\n" if status == 200 else b"7\n")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def http_witness() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_submit_speaks_http(http_witness: str) -> None:
    assert submit(http_witness, b"old 0\n\n") == Submission(200, "ok\n")
    assert submit(http_witness, b"old 3\n\n") == Submission(409, "7\n")
    unreachable = submit("http://127.0.0.1:9", b"old 0\n\n", timeout=2)
    assert unreachable.status == 0
    assert "cannot reach" in unreachable.body
    with pytest.raises(LedgerError, match="http"):
        submit("file:///etc/passwd", b"")
