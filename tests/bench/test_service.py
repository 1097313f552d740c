"""The service benchmark's own HTTP client: what it sends, what it counts, and broken connections."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import psutil

from custodes.bench.service import BASIS, _Connection, _cpu_seconds, _load, _rss_mib

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
