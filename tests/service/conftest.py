"""The service on a small hand-made master file, against SQLite and PostgreSQL.

The matching index and the ledger keys are built once per session and copied into each
test's home; each test gets a fresh store (``store_url``) with agencies, staff and keys.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from custodes import Gateway, Settings
from custodes.config import ServiceConfig
from custodes.service.api import create_app
from custodes.service.desk import Desk
from custodes.store import upgrade
from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows
from tests.test_gateway import REQUEST_HEADER, REQUESTS, manifest

DHS = "Department of Homeland Security"
DOJ = "Department of Justice"
STAFF = {
    "Dana Reyes": "disclosure_officer",
    "Olu Adeyemi": "disclosure_officer",
    "Avery Chen": "auditor",
    "Pat Morgan": "policy_admin",
    "Quinn Ito": "oversight",
}
SUBMITTER = "Sam Porter"
"""The person DHS's submitter key was issued to."""


@pytest.fixture(scope="session")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the matching index and ledger keys (its own SQLite store is not used)."""
    root = tmp_path_factory.mktemp("service-template")
    settings = Settings(home=root / "home", database_url=f"sqlite:///{root / 'template.sqlite'}")
    gateway = Gateway(settings)
    gateway.init()
    master = pl.DataFrame(MASTER_ROWS + filler_rows(3000), schema=COLUMNS, orient="row")
    path = root / "master.parquet"
    master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year").write_parquet(path)
    gateway.load_master(path)
    gateway.close()
    return root / "home"


@dataclass
class World:
    """A ready service: its desk, an HTTP client, and a key per role."""

    desk: Desk
    client: TestClient
    keys: dict[str, str]
    settings: Settings

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def make_home(template: Path, target: Path) -> Path:
    shutil.copytree(template, target, symlinks=False)
    return target


def populate(desk: Desk) -> dict[str, str]:
    """Agencies, staff and one key each: ``dhs``, ``doj``, ``dhs_dana`` (DHS key held by Dana) and staff names."""
    desk.add_agency(DHS)
    desk.add_agency(DOJ)
    keys: dict[str, str] = {}
    for name, role in STAFF.items():
        desk.add_staff(name, role)
        keys[name] = desk.issue_key(staff=name)[1]
    keys["dhs"] = desk.issue_key(agency=DHS, role="submitter", holder=SUBMITTER)[1]
    keys["doj"] = desk.issue_key(agency=DOJ, role="submitter")[1]
    keys["dhs_dana"] = desk.issue_key(agency=DHS, role="submitter", holder="Dana Reyes")[1]
    return keys


@pytest.fixture
def world(template_home: Path, tmp_path: Path, store_url: str) -> Iterator[World]:
    home = make_home(template_home, tmp_path / "home")
    settings = Settings(
        home=home,
        database_url=store_url,
        service=ServiceConfig(max_upload_bytes=200_000, lease_seconds=60),
    )
    upgrade(store_url)
    app = create_app(settings, worker=False)
    desk: Desk = app.state.desk
    keys = populate(desk)
    with TestClient(app) as client:
        yield World(desk=desk, client=client, keys=keys, settings=settings)


def batch_csv(rows: list[list[str]] | None = None, header: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header or REQUEST_HEADER)
    writer.writerows(REQUESTS if rows is None else rows)
    return buffer.getvalue().encode()


def manifest_bytes(**overrides: object) -> bytes:
    return json.dumps(manifest(**overrides)).encode()


def submit(
    world: World,
    who: str = "dhs",
    *,
    rows: list[list[str]] | None = None,
    filename: str = "requests.csv",
    **overrides: object,
) -> object:
    """POST /v1/batches; returns the httpx response."""
    return world.client.post(
        "/v1/batches",
        headers=world.auth(who),
        files={
            "manifest": ("manifest.json", manifest_bytes(**overrides), "application/json"),
            "requests": (filename, batch_csv(rows), "text/csv"),
        },
    )


def with_settings(world: World, **service: object) -> Settings:
    return replace(world.settings, service=replace(world.settings.service, **service))
