"""`custodes serve --workers 2` for real: two server processes on one port and one store.

Each request opens its own connection, so the kernel spreads them over both workers. What the
processes share must live in the store: the log (one head), the budgets, UI sessions.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import func, select

from custodes import Gateway, Settings
from custodes.ledger import audit_log
from custodes.ledger.store import entries
from custodes.service.decider import LISTENING_LINE
from custodes.service.desk import Desk
from custodes.service.ui import LOGIN_COOKIE, SESSION_COOKIE
from custodes.store import connect, upgrade
from tests.service.conftest import make_home, populate
from tests.service.test_api import SUBJECT, register_basis

WORKERS = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Served:
    def __init__(
        self, base: str, keys: dict[str, str], settings: Settings, pids: list[int], decider_log: Path | None
    ) -> None:
        self.base, self.keys, self.settings, self.pids = base, keys, settings, pids
        self.decider_log = decider_log
        """The server's log when it runs a decider (which logs its process id there)."""

    def decider_pid(self) -> int | None:
        if self.decider_log is None:
            return None
        found = LISTENING_LINE.search(self.decider_log.read_text())
        assert found, self.decider_log.read_text()
        return int(found.group(2))


@pytest.fixture(params=[True, False], ids=["one-decider", "each-decides"])
def served(
    request: pytest.FixtureRequest, template_home: Path, tmp_path: Path, store_url: str
) -> Iterator[_Served]:
    decider: bool = request.param
    home = make_home(template_home, tmp_path / "home")
    assert not (home / "custodes.toml").exists()
    (home / "custodes.toml").write_text(f"[service]\ndecider = {'true' if decider else 'false'}\n")
    settings = Settings(home=home, database_url=store_url)
    upgrade(store_url)
    gateway = Gateway(settings)
    desk = Desk(gateway)
    keys = populate(desk)

    class _World:  # register_basis needs only `.desk`
        pass

    world = _World()
    world.desk = desk  # type: ignore[attr-defined]
    register_basis(world)  # type: ignore[arg-type]
    gateway.close()
    port = _free_port()
    env = {**os.environ, "CUSTODES_HOME": str(home), "CUSTODES_DATABASE_URL": store_url}
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "custodes", "serve", "--port", str(port), "--workers", str(WORKERS)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "custodes serve --workers 2 did not start in 90 s"
            workers = psutil.Process(server.pid).children(recursive=True)
            if len(workers) >= WORKERS and _listening(port):
                break
            time.sleep(0.2)
        # the supervisor's children: the multiprocessing helper, the workers and the decider
        pids = [p.pid for p in psutil.Process(server.pid).children(recursive=True)]
        yield _Served(base, keys, settings, pids, tmp_path / "server.log" if decider else None)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _verify(served: _Served, n: int, subject: dict[str, object] | None = None) -> httpx.Response:
    # a new connection each time: the workers share the listening socket
    return httpx.post(
        f"{served.base}/v1/verifications",
        json={
            "standing_basis": "DHS-ONLINE-2026",
            "subject": {**(subject or SUBJECT), "request_id": f"W-{n}"},
        },
        headers={"Authorization": f"Bearer {served.keys['dhs']}"},
        timeout=60,
    )


def test_two_server_processes_answer_on_one_port_and_keep_one_log_and_one_budget(served: _Served) -> None:
    processes = [psutil.Process(p) for p in served.pids]
    before = [sum(p.cpu_times()[:2]) for p in processes]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: _verify(served, n), range(12)))
    used = {p.pid: sum(p.cpu_times()[:2]) - b for p, b in zip(processes, before, strict=True)}
    decider = served.decider_pid()
    if decider is None:
        # both workers did verifications (an idle worker's batch poll costs a few ms at most)
        assert len(used) >= WORKERS
        assert all(seconds >= 0.05 for seconds in sorted(used.values())[-WORKERS:]), used
    else:
        # the decider did them, whichever worker each request reached
        assert decider in used
        assert used[decider] >= 0.05, used
    assert [a.status_code for a in answers] == [200] * 12, [a.text for a in answers if a.status_code != 200]
    reasons = sorted(str(a.json()["reason"]) for a in answers)
    # one subject asked twelve times at once, over both processes: the budget holds exactly
    assert reasons == ["None"] * 3 + ["query_budget_exceeded"] * 9
    engine = connect(served.settings.store_url)
    try:
        with engine.connect() as conn:
            kinds = conn.execute(select(func.count()).select_from(entries).where(entries.c.kind == 0))
            assert kinds.scalar_one() == 12
            gateway = Gateway(served.settings)
            try:
                assert audit_log(conn, gateway._keys().verifier).ok
            finally:
                gateway.close()
    finally:
        engine.dispose()


def test_a_reviewer_session_holds_across_both_processes(served: _Served) -> None:
    form = httpx.get(f"{served.base}/ui/login")
    csrf = form.cookies[LOGIN_COOKIE]
    login = httpx.post(
        f"{served.base}/ui/login",
        data={"api_key": served.keys["Dana Reyes"], "csrf": csrf},
        cookies={LOGIN_COOKIE: csrf},
    )
    assert login.status_code == 303, login.text
    token = login.cookies[SESSION_COOKIE]
    # twenty new connections: some land on the other process, and every one knows the session
    pages = [
        httpx.get(f"{served.base}/ui/", cookies={SESSION_COOKIE: token}, follow_redirects=False)
        for _ in range(20)
    ]
    assert [p.status_code for p in pages] == [200] * 20
    assert all("Dana Reyes" in p.text for p in pages)


@pytest.mark.parametrize(
    "how", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT], ids=["stopped", "killed", "interrupted"]
)
def test_the_decider_does_not_outlive_its_server(
    template_home: Path, tmp_path: Path, how: signal.Signals
) -> None:
    """One server process (uvicorn in the main process, which raises SIGTERM again once it has
    shut down) stopped, the server killed outright, or Ctrl+C (SIGINT to the whole process
    group, the decider included): the decider goes too, and only after the server."""
    home = make_home(template_home, tmp_path / "home")
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    upgrade(store)
    port = _free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "CUSTODES_HOME": str(home), "CUSTODES_DATABASE_URL": store}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "custodes", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a terminal would give it
        )
        decider: psutil.Process | None = None
        try:
            deadline = time.monotonic() + 90
            while not (found := LISTENING_LINE.search(log_path.read_text())) or not _listening(port):
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "custodes serve did not start in 90 s"
                time.sleep(0.2)
            decider = psutil.Process(int(found.group(2)))
            socket_dir = Path(found.group(1)).parent
            assert socket_dir.is_dir()
            if how == signal.SIGINT:
                os.killpg(server.pid, how)
            else:
                server.send_signal(how)
            server.wait(timeout=60)
            _gone, alive = psutil.wait_procs([decider], timeout=60)
            assert not alive, f"the decider (process {decider.pid}) outlived the server"
            if how != signal.SIGKILL:
                assert not socket_dir.exists(), "the decider's socket was left behind"
                text = log_path.read_text()
                assert text.index("decider stopped") > text.index("Application shutdown complete"), text
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            if decider is not None and decider.is_running():
                decider.kill()


def _listening(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v1/log/checkpoint").status_code in (200, 404)
    except httpx.TransportError:
        return False
