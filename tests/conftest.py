"""Shared fixtures: the operational store on SQLite and on a real PostgreSQL server.

PostgreSQL is never mocked. ``CUSTODES_TEST_DATABASE_URL`` names a server to use; otherwise
a throwaway cluster is started with this machine's ``pg_ctl`` (as the ``postgres`` user when
running as root, because PostgreSQL refuses to run as root). If neither is possible the
PostgreSQL tests fail, saying why; they never skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy.engine import make_url


def _find_pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return candidates[-1].parent if candidates else None


# The suite runs on 2 shared cores: a per-example deadline measures the machine's load, not the
# code, and flakes. Examples stay bounded by each test's max_examples and pytest's timeout.
hypothesis_settings.register_profile("custodes", deadline=None)
hypothesis_settings.load_profile("custodes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_pg_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server URL (without database) for the session: configured, or a throwaway cluster."""
    configured = os.environ.get("CUSTODES_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    bindir = _find_pg_bin()
    if bindir is None:
        pytest.fail(
            "PostgreSQL tests need a server: set CUSTODES_TEST_DATABASE_URL, or install "
            "PostgreSQL so that pg_ctl is found (`make test` installs Debian's postgresql)."
        )
    base = tmp_path_factory.mktemp("pg")
    datadir = base / "data"
    sockdir = base / "sock"
    datadir.mkdir()
    sockdir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(datadir, "postgres")
        shutil.chown(sockdir, "postgres")
        # the postgres user must traverse pytest's directories, up to the first that others may
        # already search (/tmp, say): pytest-of-root/pytest-N/[popen-gwK/ with pytest-xdist]/pg0.
        # Search (x) bits only are added, so /tmp's sticky and world-writable bits stay as they are.
        for directory in (base, *base.parents):
            mode = directory.stat().st_mode
            if mode & 0o011 == 0o011:
                break
            directory.chmod(mode | 0o011)
    port = _free_port()
    init = subprocess.run(
        _as_pg_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        pytest.fail(f"initdb failed, so the PostgreSQL tests cannot run:\n{init.stderr}")
    opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    start = subprocess.run(
        _as_pg_user(
            [str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts, "-w", "-l", str(base / "log"), "start"]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if start.returncode != 0:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        pytest.fail(f"pg_ctl start failed, so the PostgreSQL tests cannot run:\n{start.stderr}\n{log}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_pg_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    yield from _fresh_database(postgres_server)


def _fresh_database(postgres_server: str) -> Iterator[str]:
    url = make_url(postgres_server)
    name = f"t_{uuid.uuid4().hex[:12]}"
    janitor = DatabaseJanitor(
        user=url.username or "postgres",
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        dbname=name,
        password=url.password,
    )
    with janitor:
        yield url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store file for one test."""
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test against SQLite and against real PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def second_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second fresh store on the same backend as ``store_url`` (for comparing two gateways)."""
    if request.getfixturevalue("store_url").startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'second-store.sqlite'}"
    else:
        yield from _fresh_database(request.getfixturevalue("postgres_server"))
