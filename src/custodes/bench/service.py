"""The service benchmark: ``POST /v1/verifications`` on loopback from concurrent clients.

A synthetic master of ``persons`` is loaded, a standing basis and an agency key are
registered, ``custodes serve`` runs in its own process, and ``clients`` concurrent
clients send the synthetic requests (cycled) for ``seconds`` after a warm-up. Every
request is a full verification: legal checks, linkage, response shaping and a durable
accounting entry. Latency is measured at the client, from send to the last byte.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import psutil
from sqlalchemy import func, select

from custodes.config import load_settings
from custodes.contract.columns import REQUEST_COLUMNS
from custodes.errors import ConfigError
from custodes.gateway import Gateway
from custodes.service.decider import LISTENING_LINE
from custodes.service.desk import Desk
from custodes.service.records import StandingBasis
from custodes.store.schema import agencies
from custodes.synth import generate

AGENCY = "Department of Homeland Security"
BASIS = "BENCH-ONLINE"
P99_TARGET_MS = 25.0
RATE_TARGET = 200.0
SUBJECT_COLUMNS = tuple(c for c in REQUEST_COLUMNS if c != "case_reference")
"""The request columns a subject carries to the service (the contract's, without the case reference)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _prepare(
    persons: int, seed: int, workdir: Path
) -> tuple[dict[str, str], str, list[dict[str, str | None]]]:
    """Data, store, index, basis and key; returns (environment, key, subjects)."""
    data = workdir / f"data-{persons}-{seed}"
    if not (data / "master.parquet").exists():
        generate(persons, min(max(persons // 10, 100), 20_000), seed, data)
    home = workdir / f"home-{persons}-{seed}-{int(time.time())}"
    env = {**os.environ, "CUSTODES_HOME": str(home)}
    settings = load_settings(env)
    gateway = Gateway(settings)
    try:
        gateway.init()
        _require_fresh_store(gateway)
        gateway.load_master(data / "master.parquet")
        desk = Desk(gateway)
        desk.add_agency(AGENCY)
        desk.add_staff("Bench Admin", "policy_admin")
        desk.register_basis(
            StandingBasis(
                id=BASIS,
                agency=AGENCY,
                legal_basis="26 USC 6103(i)(2)",
                statutory_authority="8 USC 1253(a)(1)",
                taxable_periods=("2022", "2023", "2024"),
                reason="Each named person is subject to a final order of removal and is under investigation "
                "for willful failure to depart under the cited statute.",
                signer_name="Bench Signer",
                signer_title="Secretary of Homeland Security",
                disclosure_profile="verify_only",
                expires_at=datetime.now(UTC) + timedelta(days=1),
                registered_by="Bench Admin",
            )
        )
        _, key = desk.issue_key(agency=AGENCY, role="submitter")
    finally:
        gateway.close()
    frame = pl.read_csv(data / "requests.csv", infer_schema=False)
    subjects = [
        {c: row.get(c) for c in SUBJECT_COLUMNS if c in frame.columns} for row in frame.iter_rows(named=True)
    ]
    return env, key, subjects


def _require_fresh_store(gateway: Gateway) -> None:
    """Refuse a store an earlier run filled: its agency, basis and query budgets would be reused."""
    with gateway.engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(agencies)).scalar_one()
    if held:
        store = gateway.engine.url.render_as_string(hide_password=True)
        raise ConfigError(
            f"the store at {store} (CUSTODES_DATABASE_URL) already holds {held} "
            f"agenc{'y' if held == 1 else 'ies'} (an earlier run's?); the bench registers its own, "
            "and an earlier run's query budgets would refuse its subjects",
            hint="point CUSTODES_DATABASE_URL at a new, empty database for each run "
            "(without it, each run gets its own SQLite store)",
        )


def _tree(pid: int) -> list[psutil.Process]:
    """A process and its descendants (uvicorn's supervisor and its workers), the process first."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its live descendants have used (uvicorn's workers)."""
    total = 0.0
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _own_cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _rss_mib(pid: int) -> list[float]:
    """Resident memory of a process and of each live descendant, in MiB (the supervisor first)."""
    sizes = []
    for process in _tree(pid):
        try:
            sizes.append(round(process.memory_info().rss / 2**20, 1))
        except psutil.NoSuchProcess:
            continue
    return sizes


READY_LINE = "Application startup complete."
"""What uvicorn logs when one server process has run the app's startup (its online engine loaded)."""


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait_until_serving(
    server: subprocess.Popen[bytes], server_log: Path, workers: int, answers: Callable[[], bool], *,
    timeout: float = 180.0,
) -> None:  # fmt: skip
    """Wait until each of the ``workers`` server processes has started and the server answers.

    The clients' keep-alive connections stay with the process that accepted them. Load sent
    as soon as the first of two processes answers lands on that process alone, for the whole
    run, while the other is still loading its online engine (seen on 2026-12-07: all 50
    connections on one of two processes).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            code = server.returncode
            raise RuntimeError(f"custodes serve exited with {code} while starting; see {server_log}")
        started = server_log.read_text(encoding="utf-8", errors="replace").count(READY_LINE)
        if started >= workers and answers():
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"custodes serve did not start its {workers} process(es) within {timeout:.0f} s; see {server_log}"
    )


def _connections(pid: int, port: int) -> list[int]:
    """Established connections to ``port`` held by each server process: each process under
    ``pid`` that listens on ``port`` (uvicorn's workers; not its supervisor, whose workers
    accept, nor multiprocessing's helper)."""
    tree = _tree(pid)
    counts = []
    # with one server process uvicorn serves in the supervisor itself (its children are then
    # multiprocessing's helper and the decider, which listen on no port)
    listening = [p for p in tree[1:] if _listens(p, port)] or tree[:1]
    for process in listening:
        try:
            held = [c for c in process.net_connections(kind="tcp") if c.laddr.port == port]
        except psutil.NoSuchProcess:
            continue
        if any(c.status == psutil.CONN_LISTEN for c in held):
            counts.append(sum(1 for c in held if c.status == psutil.CONN_ESTABLISHED))
    return counts


def _listens(process: psutil.Process, port: int) -> bool:
    try:
        return any(
            c.laddr.port == port and c.status == psutil.CONN_LISTEN
            for c in process.net_connections(kind="tcp")
        )
    except psutil.NoSuchProcess:
        return False


def _decider_pid(server_log: Path) -> int | None:
    found = LISTENING_LINE.search(server_log.read_text(encoding="utf-8", errors="replace"))
    return int(found.group(2)) if found else None


@dataclass
class _Run:
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    server_cpu: float = 0.0
    server_rss_mib: list[float] = field(default_factory=list)
    connections: list[int] = field(default_factory=list)
    client_cpu: float = 0.0
    decider_cpu: float | None = None
    elapsed: float = 0.0


_BROKEN = (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError, OSError)
"""What a broken exchange raises: OSError when refused or reset, the others when the answer
broke off or is no HTTP/1.1 this client reads."""


class _Connection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads the answer.

    The load generator shares the two cores with the server, so it is written on asyncio
    streams rather than a general HTTP client: httpx cost 3-6 ms of client CPU a request,
    which the server then lacked. It speaks just enough HTTP/1.1 for uvicorn's answers
    (a status line, headers and a ``Content-Length`` body; chunked bodies are refused).
    """

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self._host, self._port = host, port
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of ``POST path``; ``ConnectionError`` when the server closes or garbles it."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        request = (
            f"POST {path} HTTP/1.1\r\n{self._head}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        try:
            self._writer.write(request + body)
            head = await self._reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            pairs = (line.partition(":") for line in lines[1:] if line)
            fields = {name.strip().lower(): value.strip() for name, _, value in pairs}
            if "content-length" not in fields:
                raise ValueError(f"an answer without Content-Length ({fields.get('transfer-encoding')})")
            payload = await self._reader.readexactly(int(fields["content-length"]))
        except _BROKEN as exc:
            self.close()
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _load(  # noqa: PLR0917 - the run's parameters
    base: str, key: str, subjects: list[dict[str, str | None]], clients: int, seconds: float, warmup: float,
    rate: float | None, server_pid: int, decider_pid: int | None = None,
) -> _Run:  # fmt: skip
    """Send verifications for ``warmup`` + ``seconds``; measure the last ``seconds``.

    With ``rate``, open loop: request i is due at ``i / rate`` s, whether or not earlier ones
    were answered, at most ``clients`` in flight (one keep-alive connection each), and its
    latency runs from its due time (queueing included), so a server that falls behind shows
    it in p99. Without, closed loop: ``clients`` workers each send the next request when
    the last is answered.
    """
    run = _Run()
    address = base.removeprefix("http://")
    host, _, port_text = address.rpartition(":")
    port = int(port_text)
    headers = {"Authorization": f"Bearer {key}"}
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(clients):
        pool.put_nowait(_Connection(host, port, headers))
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    marks: dict[str, float] = {}

    def mark_start() -> None:
        if "server" not in marks:
            marks["server"], marks["client"], marks["at"] = (
                _cpu_seconds(server_pid),
                time.process_time(),
                time.perf_counter(),
            )
            if decider_pid is not None:
                marks["decider"] = _own_cpu_seconds(decider_pid)

    async def send(i: int, since: float) -> None:
        subject = {**subjects[i % len(subjects)], "request_id": f"B{i}"}
        body = json.dumps({"standing_basis": BASIS, "subject": subject}).encode()
        connection = await pool.get()
        try:
            status, payload = await connection.post("/v1/verifications", body)
        except ConnectionError:
            # counted, not retried: a retry would be a second verification of the subject
            if since >= measure_from:
                run.outcomes["transport_error"] += 1
            return
        finally:
            pool.put_nowait(connection)
        done = time.perf_counter()
        if since >= measure_from:
            run.latencies.append(done - since)
            run.outcomes[str(json.loads(payload).get("outcome")) if status == 200 else f"http_{status}"] += 1

    if rate is None:
        counter = iter(range(10**12))

        async def worker() -> None:
            while (now := time.perf_counter()) < stop_at:
                if now >= measure_from:
                    mark_start()
                await send(next(counter), now)

        await asyncio.gather(*(worker() for _ in range(clients)))
    else:
        tasks = set()
        for i in range(int((warmup + seconds) * rate)):
            at = started + i / rate
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            if at >= measure_from:
                mark_start()
            task = asyncio.create_task(send(i, at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    run.connections = _connections(server_pid, port)
    while not pool.empty():
        pool.get_nowait().close()
    run.elapsed = time.perf_counter() - marks["at"]
    run.server_cpu = _cpu_seconds(server_pid) - marks["server"]
    run.server_rss_mib = _rss_mib(server_pid)
    run.client_cpu = time.process_time() - marks["client"]
    if decider_pid is not None:
        run.decider_cpu = _own_cpu_seconds(decider_pid) - marks["decider"]
    return run


def run_service_bench(  # noqa: PLR0917 - the positional signature the CLI calls
    persons: int,
    clients: int,
    seconds: float,
    seed: int,
    workdir: Path,
    results: Path,
    *,
    warmup: float = 3.0,
    rate: float | None = RATE_TARGET,
    workers: int = 1,
) -> dict[str, object]:
    """Run the benchmark and write ``service-<persons>.json`` under ``results``.

    ``rate`` requests a second in open loop (None: closed loop at ``clients``); ``workers``
    server processes (``custodes serve --workers``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    prepared_at = time.perf_counter()
    env, key, subjects = _prepare(persons, seed, workdir)
    prepare_seconds = time.perf_counter() - prepared_at
    port = _free_port()
    load_before = os.getloadavg()[0]
    # the server's own output goes to a log beside its store: a crash under load says why there
    server_log = Path(env["CUSTODES_HOME"]) / "server.log"
    log_file = server_log.open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "custodes",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(server, server_log, workers, lambda: _answers(f"{base}/openapi.json"))
        decider = _decider_pid(server_log)
        run = asyncio.run(_load(base, key, subjects, clients, seconds, warmup, rate, server.pid, decider))
        if server.poll() is not None:
            code = server.returncode
            raise RuntimeError(f"custodes serve exited with {code} during the run; see {server_log}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log_file.close()
    ordered = sorted(run.latencies)
    answered = len(ordered)

    def pct(q: float) -> float:
        return (
            round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)
            if ordered
            else float("nan")
        )

    p99 = pct(0.99)
    report: dict[str, object] = {
        "benchmark": "service_verifications",
        "persons": persons,
        "mode": "closed loop" if rate is None else "open loop",
        "offered_rate": rate,
        "clients": clients,
        "server_workers": workers,
        "seconds": round(run.elapsed, 2),
        "warmup_seconds": warmup,
        "requests": answered,
        "throughput_rps": round(answered / run.elapsed, 1),
        "latency_ms": {
            "p50": pct(0.50),
            "p90": pct(0.90),
            "p99": p99,
            "max": round(ordered[-1] * 1000, 2) if ordered else None,
            "mean": round(statistics.fmean(ordered) * 1000, 2) if ordered else None,
        },
        "server_cpu_ms_per_request": round(1000 * run.server_cpu / answered, 2) if answered else None,
        "server_rss_mib": run.server_rss_mib,
        "connections_per_server_process": run.connections,
        "client_cpu_ms_per_request": round(1000 * run.client_cpu / answered, 2) if answered else None,
        "decider": decider is not None,
        "decider_cpu_ms_per_request": (
            round(1000 * run.decider_cpu / answered, 2) if answered and run.decider_cpu is not None else None
        ),
        "target": {"p99_ms": P99_TARGET_MS, "rate": RATE_TARGET},
        "target_met": bool(rate is not None and rate >= RATE_TARGET and answered and p99 <= P99_TARGET_MS
                           and answered / run.elapsed >= 0.98 * rate),
        "outcomes": dict(run.outcomes),
        "store": "postgresql" if "CUSTODES_DATABASE_URL" in env else "sqlite",
        "prepare_seconds": round(prepare_seconds, 1),
        "cpus": os.cpu_count(),
        "load_average_1m": load_before,
        "load_average_1m_after": os.getloadavg()[0],
        "python": platform.python_version(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "server (uvicorn, server_workers processes, and with decider one process that decides "
        "every verification) and clients (one asyncio process) share the machine; server CPU includes the "
        "decider's; latency in open loop runs from each request's due time",
    }  # fmt: skip
    results.mkdir(parents=True, exist_ok=True)
    store = "-pg" if "CUSTODES_DATABASE_URL" in env else ""
    processes = "" if workers == 1 else f"-w{workers}"
    name = f"service-{persons}{store}{processes}{'' if rate is not None else '-closed'}"
    (results / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
