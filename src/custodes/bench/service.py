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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl

from custodes.config import load_settings
from custodes.contract.columns import REQUEST_COLUMNS
from custodes.gateway import Gateway
from custodes.service.desk import Desk
from custodes.service.records import StandingBasis
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class _Run:
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    elapsed: float = 0.0


async def _load(  # noqa: PLR0917 - the run's parameters
    base: str, key: str, subjects: list[dict[str, str | None]], clients: int, seconds: float, warmup: float,
    rate: float | None, server_pid: int,
) -> _Run:  # fmt: skip
    """Send verifications for ``warmup`` + ``seconds``; measure the last ``seconds``.

    With ``rate``, open loop: request i is due at ``i / rate`` s, whether or not earlier ones
    were answered, at most ``clients`` in flight, and its latency runs from its due time
    (queueing included), so a server that falls behind shows it in p99. Without, closed
    loop: ``clients`` workers each send the next request when the last is answered.
    """
    run = _Run()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {key}"}
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

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120, headers=headers) as client:

        async def send(i: int, since: float) -> None:
            subject = {**subjects[i % len(subjects)], "request_id": f"B{i}"}
            try:
                response = await client.post(
                    "/v1/verifications", json={"standing_basis": BASIS, "subject": subject}
                )
            except httpx.TransportError as exc:
                # counted, not retried: a retry would be a second verification of the subject
                run.outcomes[f"transport_error_{type(exc).__name__}"] += 1
                return
            done = time.perf_counter()
            if since >= measure_from:
                run.latencies.append(done - since)
                run.outcomes[
                    str(response.json().get("outcome"))
                    if response.status_code == 200
                    else f"http_{response.status_code}"
                ] += 1

        if rate is None:
            counter = iter(range(10**12))

            async def worker() -> None:
                while (now := time.perf_counter()) < stop_at:
                    if now >= measure_from:
                        mark_start()
                    await send(next(counter), now)

            await asyncio.gather(*(worker() for _ in range(clients)))
        else:
            gate = asyncio.Semaphore(clients)

            async def due(i: int) -> None:
                at = started + i / rate
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                if at >= measure_from:
                    mark_start()
                async with gate:
                    await send(i, at)

            await asyncio.gather(*(due(i) for i in range(int((warmup + seconds) * rate))))
    run.elapsed = time.perf_counter() - marks["at"]
    run.server_cpu = _cpu_seconds(server_pid) - marks["server"]
    run.client_cpu = time.process_time() - marks["client"]
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
) -> dict[str, object]:
    """Run the benchmark and write ``service-<persons>.json`` under ``results``.

    ``rate`` requests a second in open loop (None: closed loop at ``clients``).
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
        [sys.executable, "-m", "custodes", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("custodes serve did not start within 60 s")
        run = asyncio.run(_load(base, key, subjects, clients, seconds, warmup, rate, server.pid))
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
        "client_cpu_ms_per_request": round(1000 * run.client_cpu / answered, 2) if answered else None,
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
        "note": "server (uvicorn, one process) and clients (one asyncio process) share the machine; "
        "latency in open loop runs from each request's due time",
    }  # fmt: skip
    results.mkdir(parents=True, exist_ok=True)
    (results / f"service-{persons}{'' if rate is not None else '-closed'}.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    return report
