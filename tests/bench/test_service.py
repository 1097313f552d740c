"""The service benchmark's own HTTP client: what it sends, what it counts, and broken connections."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from custodes.bench.service import (
    BASIS,
    READY_LINE,
    _Connection,
    _connections,
    _cpu_seconds,
    _load,
    _require_fresh_store,
    _rss_mib,
    _wait_until_serving,
)
from custodes.config import Settings
from custodes.errors import ConfigError
from custodes.gateway import Gateway
from custodes.service.desk import Desk

KEY = "cus_0123456789abcdef_secret"
SUBJECTS = [{"first_name": "Ana", "last_name": "Ruiz"}, {"first_name": "Bo", "last_name": "Li"}]


async def _server(seen: list[dict[str, object]], broken_every: int) -> asyncio.Server:
    """A loopback HTTP/1.1 server that answers like uvicorn, and drops every ``broken_every``-th request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                fields = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
                body = json.loads(await reader.readexactly(int(fields["content-length"])))
                seen.append({"line": head[0], "auth": fields["authorization"], "body": body})
                number = int(body["subject"]["request_id"].removeprefix("B"))
                if number % broken_every == broken_every - 1:
                    writer.close()  # the server went away mid-request
                    return
                payload = json.dumps(
                    {"request_id": body["subject"]["request_id"], "outcome": "match"}
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass  # the client closed its connection
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_open_loop_counts_each_answer_and_each_broken_connection_once() -> None:
    seen: list[dict[str, object]] = []

    async def main() -> object:
        server = await _server(seen, broken_every=7)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await _load(f"http://127.0.0.1:{port}", KEY, SUBJECTS, 4, 0.3, 0.1, 100.0, os.getpid())

    run = asyncio.run(main())
    sent = sorted(int(str(s["body"]["subject"]["request_id"])[1:]) for s in seen)  # type: ignore[index]
    assert sent == list(range(40))  # every due request sent once, none retried
    measured = range(10, 40)  # due after the 0.1 s warm-up
    broken = [i for i in measured if i % 7 == 6]
    assert run.outcomes == {"match": len(measured) - len(broken), "transport_error": len(broken)}  # type: ignore[attr-defined]
    assert len(run.latencies) == len(measured) - len(broken)  # type: ignore[attr-defined]
    first = seen[0]
    assert first["line"] == "POST /v1/verifications HTTP/1.1"
    assert first["auth"] == f"Bearer {KEY}"
    assert first["body"] == {"standing_basis": BASIS, "subject": {**SUBJECTS[0], "request_id": "B0"}}


def test_a_connection_reconnects_after_the_server_drops_it() -> None:
    seen: list[dict[str, object]] = []

    async def main() -> list[object]:
        server = await _server(seen, broken_every=2)
        port = server.sockets[0].getsockname()[1]
        connection = _Connection("127.0.0.1", port, {"Authorization": "Bearer k"})
        results: list[object] = []
        async with server:
            for i in range(3):
                body = json.dumps({"subject": {"request_id": f"B{i}"}}).encode()
                try:
                    status, payload = await connection.post("/v1/verifications", body)
                    results.append((status, json.loads(payload)["request_id"]))
                except ConnectionError as exc:
                    results.append(type(exc).__name__)
            connection.close()
        return results

    assert asyncio.run(main()) == [(200, "B0"), "ConnectionError", (200, "B2")]


def test_the_server_cpu_and_memory_count_every_worker_process() -> None:
    """`serve --workers N` forks its workers: the supervisor alone would hide their work."""
    child = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\ntime.sleep(60)"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}])\ntime.sleep(60)",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            kids = psutil.Process(parent.pid).children()
            if kids and sum(kids[0].cpu_times()[:2]) >= 0.3:  # ticks of 10 ms: leave room
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the worker process did not start")
        own = sum(psutil.Process(parent.pid).cpu_times()[:2])
        assert _cpu_seconds(parent.pid) >= own + 0.3
        sizes = _rss_mib(parent.pid)
        assert len(sizes) == 2
        assert all(size > 1 for size in sizes)
    finally:
        for process in psutil.Process(parent.pid).children(recursive=True):
            process.kill()
        parent.kill()
        parent.wait()


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_the_load_waits_for_every_server_process(tmp_path: Path) -> None:
    """Load sent while one of two processes still starts would stay on the other for the run."""
    log = tmp_path / "server.log"
    log.write_text(f"INFO:     {READY_LINE}\n", encoding="utf-8")
    server = _sleeper()
    try:
        with pytest.raises(RuntimeError, match=r"did not start its 2 process\(es\) within 1 s"):
            _wait_until_serving(server, log, 2, lambda: True, timeout=1.0)
        _wait_until_serving(server, log, 1, lambda: True, timeout=1.0)
        with log.open("a", encoding="utf-8") as out:
            out.write(f"INFO:     {READY_LINE}\n")
        started = time.monotonic()
        _wait_until_serving(server, log, 2, lambda: True, timeout=5.0)
        assert time.monotonic() - started < 1.0
        # started, but not answering yet: still waiting
        with pytest.raises(RuntimeError, match="within 1 s"):
            _wait_until_serving(server, log, 2, lambda: False, timeout=1.0)
    finally:
        server.kill()
        server.wait()
    with pytest.raises(RuntimeError, match=rf"exited with -9 while starting; see {log}"):
        _wait_until_serving(server, log, 2, lambda: True, timeout=5.0)


def test_the_connections_are_counted_per_server_process() -> None:
    """The report says how the clients' connections fell on the processes (a worker, or the one)."""
    child = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(8)\n"
        "print(s.getsockname()[1], flush=True)\n"
        "held = [s.accept()[0] for _ in range(3)]\n"
        "time.sleep(60)\n"
    )
    for nested in (True, False):
        code = (
            f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}])\ntime.sleep(60)"
            if nested
            else child
        )
        server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
            deadline = time.monotonic() + 10
            while _connections(server.pid, port) != [3] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _connections(server.pid, port) == [3]
            assert _connections(server.pid, port + 1 if port < 65535 else port - 1) == []
            for c in clients:
                c.close()
        finally:
            for process in psutil.Process(server.pid).children(recursive=True):
                process.kill()
            server.kill()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()


def test_a_store_an_earlier_run_filled_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """On PostgreSQL the store outlives a run: a second run would reuse its agency and budgets."""
    gateway = Gateway(Settings(home=tmp_path / "home"))
    try:
        gateway.init()
        _require_fresh_store(gateway)  # empty: fine
        Desk(gateway).add_agency("Department of Homeland Security")
        with pytest.raises(ConfigError) as caught:
            _require_fresh_store(gateway)
        text = str(caught.value)
        assert "already holds 1 agency" in text
        assert f"the store at sqlite:///{tmp_path / 'home'}/" in text
        assert "(CUSTODES_DATABASE_URL)" in text
        assert "what to do: point CUSTODES_DATABASE_URL at a new, empty database" in text
    finally:
        gateway.close()
