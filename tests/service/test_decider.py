"""The decider (``custodes.service.decider``): online verifications decided in one process.

The server processes send their subjects over a Unix socket to one Gateway that decides,
shapes and accounts them (the same ``submit_subject``). Here the decider runs on threads of
the test process, with its own Gateway on the test's store, and the app sends to it; the
real processes (``custodes serve``) are in test_workers.py.
"""

from __future__ import annotations

import inspect
import pickle
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Listener
from pathlib import Path

import pytest
from sqlalchemy import func, select

import custodes.service.api  # noqa: F401 - defines the service's error classes
from custodes import Gateway, errors
from custodes.gateway import OnlineRequest
from custodes.ledger import audit_log
from custodes.ledger.store import entries
from custodes.service.decider import DeciderClient, DeciderServer, DeciderUnavailableError, serve_connection
from custodes.service.desk import basis_manifest
from custodes.service.records import find_basis
from tests.service.conftest import World
from tests.service.test_api import SUBJECT, register_basis, verify


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # a Unix socket's path must stay under 108 bytes; pytest's tmp_path can be longer
    folder = Path(tempfile.mkdtemp(prefix="custodes-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Decided:
    world: World
    decider: Gateway
    client: DeciderClient


@pytest.fixture
def decided(world: World, socket_dir: Path) -> Iterator[Decided]:
    register_basis(world)
    decider = Gateway(world.settings)
    server = DeciderServer(decider, str(socket_dir / "decider.sock"))
    server.start()
    client = DeciderClient(server.address)
    world.desk.gateway.use_decider(client)
    try:
        yield Decided(world, decider, client)
    finally:
        world.desk.gateway.use_decider(None)
        client.close()
        server.close()
        decider.close()


def _request(decided: Decided, subject: dict[str, str | None]) -> OnlineRequest:
    with decided.decider.engine.connect() as conn:
        basis = find_basis(conn, "DHS-ONLINE-2026")
    assert basis is not None
    now = datetime.now(UTC)
    return OnlineRequest(basis_manifest(basis, f"v-test-{subject['request_id']}", now), subject, now, None)


def test_verifications_are_decided_and_accounted_by_the_decider(decided: Decided) -> None:
    world = decided.world
    answers = [
        verify(world, SUBJECT),
        verify(world, {**SUBJECT, "request_id": "Q-2", "street": "Unknown Address"}),
        verify(world, {**SUBJECT, "request_id": "Q-3"}, **{"Idempotency-Key": "once"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[0].json() == {
        "request_id": "Q-1",
        "outcome": "match",
        "reason": None,
        "address_status": "current",
    }
    assert answers[1].json()["reason"] == "placeholder_address"
    assert answers[2].json()["outcome"] == "match"
    # the decider's Gateway decided them; the app's never started a group runner of its own
    assert decided.decider._online_runner is not None
    assert decided.decider._online_runner.items == 3
    assert world.desk.gateway._online_runner is None
    with decided.decider.engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(entries).where(entries.c.kind == 0)).scalar_one()
            == 3
        )
        assert audit_log(conn, decided.decider._keys().verifier).ok
    proof = world.client.get(
        "/v1/log/proof/inclusion",
        params={"batch_id": answers[0].headers["custodes-verification-id"], "request_id": "Q-1"},
    )
    assert proof.status_code == 200, proof.text


def test_concurrent_verifications_each_get_their_own_answer_in_order(decided: Decided) -> None:
    subjects = [{**SUBJECT, "request_id": f"C-{n}"} for n in range(16)]
    futures = [decided.client.submit(_request(decided, s)) for s in subjects]
    rows = [f.result(timeout=60) for f in futures]
    assert [r["request_id"] for r in rows] == [s["request_id"] for s in subjects]
    # one subject asked sixteen times: the budget (3 a subject) counts them in the order sent
    assert [r["reason"] for r in rows] == [None] * 3 + ["query_budget_exceeded"] * 13


def test_an_error_the_decider_raises_reaches_the_caller_whole(decided: Decided) -> None:
    blank = decided.client.submit(_request(decided, {**SUBJECT, "request_id": " "}))
    with pytest.raises(errors.BatchFileError) as raised:
        blank.result(timeout=60)
    assert (raised.value.column, raised.value.row) == ("request_id", 1)
    assert "give every row a request_id" in str(raised.value)
    # and the others of the connection are still answered
    assert decided.client.submit(_request(decided, SUBJECT)).result(timeout=60)["outcome"] == "match"


def _subclasses(kind: type[errors.CustodesError]) -> list[type[errors.CustodesError]]:
    return [kind, *(sub for direct in kind.__subclasses__() for sub in _subclasses(direct))]


def _every_error() -> list[errors.CustodesError]:
    """One of each error class custodes defines (the service's modules import them all)."""
    made: list[errors.CustodesError] = []
    for kind in _subclasses(errors.CustodesError):
        try:
            parameters = inspect.signature(kind).parameters
        except ValueError:  # no __init__ of its own below Exception's
            parameters = inspect.signature(lambda message: None).parameters
        keywords: dict[str, object] = {}
        if "rule" in parameters:
            keywords["rule"] = "a_rule"
        if "kind" in parameters:
            keywords["kind"] = "a-kind"
        if "hint" in parameters:
            keywords.update(file="f.csv", row=3, column="zip", hint="fix it")
        made.append(kind("what went wrong", **keywords))
    return made


@pytest.mark.parametrize("error", _every_error(), ids=lambda e: type(e).__name__)
def test_every_custodes_error_crosses_a_process_boundary_with_its_attributes(
    error: errors.CustodesError,
) -> None:
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 - bytes made by this test
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def test_when_the_decider_is_gone_verifications_fail_at_once_with_503(world: World, socket_dir: Path) -> None:
    register_basis(world)
    address = str(socket_dir / "gone.sock")
    listener = Listener(address, family="AF_UNIX")
    accepted: list[object] = []
    accepting = threading.Thread(target=lambda: accepted.append(listener.accept()))
    accepting.start()
    client = DeciderClient(address)
    accepting.join(timeout=10)
    world.desk.gateway.use_decider(client)
    try:
        pending = client.submit(OnlineRequest(None, dict(SUBJECT), datetime.now(UTC), None))  # type: ignore[arg-type]
        accepted[0].close()  # type: ignore[attr-defined]
        with pytest.raises(DeciderUnavailableError, match="outcome of verifications in flight is unknown"):
            pending.result(timeout=10)
        answer = verify(world, SUBJECT)
        assert answer.status_code == 503
        assert answer.json()["type"].endswith("/unavailable")
        assert "decider process" in answer.json()["detail"]
    finally:
        world.desk.gateway.use_decider(None)
        client.close()
        listener.close()


def test_a_decider_that_cannot_be_reached_is_named(socket_dir: Path) -> None:
    with pytest.raises(DeciderUnavailableError, match="cannot reach the decider process"):
        DeciderClient(str(socket_dir / "nobody.sock"))


class _StubGateway:
    """``submit_subject`` answering at once with what the test says (no store, no matcher)."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def submit_subject(self, *_: object, **__: object) -> Future[object]:
        done: Future[object] = Future()
        done.set_result(self.answer)
        return done


def _stub_decider(socket_dir: Path, answer: object) -> tuple[DeciderClient, Listener, threading.Thread]:
    listener = Listener(str(socket_dir / "stub.sock"), family="AF_UNIX")

    def serve() -> None:
        serve_connection(_StubGateway(answer), listener.accept())  # type: ignore[arg-type]

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return DeciderClient(str(socket_dir / "stub.sock")), listener, thread


def _plain_request(n: int = 1) -> OnlineRequest:
    return OnlineRequest(None, {**SUBJECT, "request_id": f"S-{n}"}, datetime.now(UTC), None)  # type: ignore[arg-type]


def test_an_answer_that_cannot_be_pickled_is_an_error_for_its_asker_only(socket_dir: Path) -> None:
    client, listener, _ = _stub_decider(socket_dir, {"row": lambda: None})
    try:
        with pytest.raises(errors.StoreError, match="could not send the answer"):
            client.submit(_plain_request()).result(timeout=10)
        # the connection is still good
        with pytest.raises(errors.StoreError, match="could not send the answer"):
            client.submit(_plain_request(2)).result(timeout=10)
    finally:
        client.close()
        listener.close()


def test_a_request_that_cannot_be_pickled_is_refused_and_sends_nothing(socket_dir: Path) -> None:
    client, listener, _ = _stub_decider(socket_dir, {"outcome": "match"})
    try:
        with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
            client.submit(OnlineRequest(None, {"x": lambda: None}, datetime.now(UTC), None))  # type: ignore[arg-type, dict-item]
        assert client.submit(_plain_request()).result(timeout=10) == {"outcome": "match"}
        assert client._pending == {}
    finally:
        client.close()
        listener.close()


def test_a_message_the_decider_cannot_read_closes_that_connection_and_fails_what_waits(
    socket_dir: Path,
) -> None:
    gate = threading.Event()

    class _Slow(_StubGateway):
        def submit_subject(self, *_: object, **__: object) -> Future[object]:
            pending: Future[object] = Future()
            threading.Thread(target=lambda: (gate.wait(10), pending.set_result({"late": True}))).start()
            return pending

    listener = Listener(str(socket_dir / "slow.sock"), family="AF_UNIX")
    serving = threading.Thread(target=lambda: serve_connection(_Slow(None), listener.accept()), daemon=True)  # type: ignore[arg-type]
    serving.start()
    client = DeciderClient(str(socket_dir / "slow.sock"))
    try:
        waiting = client.submit(_plain_request())
        client._conn.send_bytes(b"not a pickle")
        serving.join(timeout=10)
        assert not serving.is_alive()
        with pytest.raises(DeciderUnavailableError):
            waiting.result(timeout=10)
        with pytest.raises(DeciderUnavailableError):
            client.submit(_plain_request(2))
    finally:
        gate.set()
        client.close()
        listener.close()
