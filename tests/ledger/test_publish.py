"""Publishing checkpoints to witnesses; a checkpoint is final once a quorum cosigned it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from custodes.errors import LedgerError
from custodes.ledger import LedgerKeys, append_batch, store
from custodes.ledger.note import verifier_for
from custodes.ledger.publish import cosigned_note, publish
from custodes.ledger.verify import ALG_COSIGNATURE_V1, open_note
from custodes.ledger.witness import (
    Submission,
    Witness,
    WitnessConfig,
    WitnessStore,
    parse_witnesses,
    submit,
)

from .conftest import batch_entry, decision


def _witness(tmp_path: Path, name: str, keys: LedgerKeys) -> Witness:
    return Witness(
        name, Ed25519PrivateKey.generate(), [keys.verifier], WitnessStore(tmp_path / name.replace("/", "_"))
    )


def _local(witnesses: dict[str, Witness]) -> object:
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
    first = publish(engine, keys.origin, _config(witnesses), 2, _local(witnesses))  # type: ignore[arg-type]
    assert (first.final, first.cosigners, [o.cosigned for o in first.outcomes]) == (True, 3, [True] * 3)
    _append(engine, keys, "B2", 300)
    second = publish(engine, keys.origin, _config(witnesses), 3, _local(witnesses))  # type: ignore[arg-type]
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
    publish(engine, keys.origin, _config(witnesses), 1, _local(witnesses))  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(store.cosignatures.delete())  # we lost track of what it cosigned
    _append(engine, keys, "B2", 5)
    result = publish(engine, keys.origin, _config(witnesses), 1, _local(witnesses))  # type: ignore[arg-type]
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
    result = publish(engine, keys.origin, configs, 1, send)
    messages = [o.message for o in result.outcomes]
    assert not result.final
    assert "HTTP 403" in messages[0]
    assert "invalid cosignature" in messages[1]
    assert "beyond our log" in messages[2]


def test_witnesses_files_are_parsed_strictly() -> None:
    vkey = verifier_for("oversight.test/w", Ed25519PrivateKey.generate(), ALG_COSIGNATURE_V1).vkey
    configs, quorum = parse_witnesses(f"# ours\nquorum 1\n{vkey} https://w.example/\n\n")
    assert (quorum, configs[0].url, configs[0].verifier.vkey) == (1, "https://w.example", vkey)
    assert parse_witnesses(f"{vkey} https://a\n{vkey} https://b\n")[1] == 2
    log_key = verifier_for("log", Ed25519PrivateKey.generate()).vkey
    for text, message in [
        (f"{log_key} https://a\n", "line 1: .*type 0x04"),
        (f"{vkey}\n", "line 1: expected"),
        ("quorum x\n", "line 1"),
        (f"quorum 2\n{vkey} https://a\n", "quorum 2 needs"),
        ("", "quorum 0 needs"),
    ]:
        with pytest.raises(LedgerError, match=message):
            parse_witnesses(text)


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
