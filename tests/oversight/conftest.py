"""A gateway on a small hand-made master file, and helpers to submit batches to it."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from custodes import Gateway, Settings
from custodes.gateway import BatchResult
from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DHS = "Department of Homeland Security"
I2 = "26 USC 6103(i)(2)"
HEADER = [
    "request_id",
    "first_name",
    "middle_name",
    "last_name",
    "dob",
    "street",
    "city",
    "state",
    "zip",
    "tin",
]


def manifest(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "batch_id": "DHS-OV-1",
        "agency": DHS,
        "legal_basis": I2,
        "statutory_authority": "8 USC 1253(a)(1)",
        "taxable_periods": ["2023", "2024"],
        "reason": "Each named person is the subject of a pending nontax criminal investigation under the cited statute.",
        "signed_by": {"name": "A. Synthetic", "title": "Secretary of Homeland Security"},
        "submitted_at": "2026-11-20T12:00:00Z",
    }
    base.update(overrides)
    return base


def write_batch(directory: Path, rows: Sequence[Sequence[str]], **overrides: object) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    batch = directory / "requests.csv"
    with batch.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    man = directory / "requests.manifest.json"
    man.write_text(json.dumps(manifest(**overrides)), encoding="utf-8")
    return batch, man


def submit(
    gateway: Gateway,
    tmp: Path,
    batch_id: str,
    rows: Sequence[Sequence[str]],
    now: datetime = NOW,
    **overrides: object,
) -> BatchResult:
    """Write a batch with ``batch_id`` and run it through the gateway."""
    batch, man = write_batch(tmp / batch_id / "in", rows, batch_id=batch_id, **overrides)
    return gateway.verify_batch(batch, man, tmp / batch_id / "out", now=now)


def decisions_of(result: BatchResult) -> dict[str, dict[str, object]]:
    return {row["request_id"]: row for row in pl.read_parquet(result.decisions_path).to_dicts()}


def write_master(path: Path) -> Path:
    master = pl.DataFrame(MASTER_ROWS + filler_rows(3000), schema=COLUMNS, orient="row")
    master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year").write_parquet(path)
    return path


@pytest.fixture(scope="session")
def master_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The matching index of the hand-made master, built once through ``master load``."""
    base = tmp_path_factory.mktemp("oversight-master")
    gw = Gateway(Settings(home=base / "home"))
    gw.init()
    gw.load_master(write_master(base / "master.parquet"))
    gw.close()
    return gw.settings.index_path


def make_gateway(tmp_path: Path, store_url: str, index: Path, **settings: object) -> Gateway:
    """A fresh store on ``store_url`` with a copy of the prepared matching index."""
    gw = Gateway(Settings(home=tmp_path / "home", database_url=store_url, **settings))  # type: ignore[arg-type]
    gw.init()
    shutil.copyfile(index, gw.settings.index_path)
    return gw


@pytest.fixture
def gateway(tmp_path: Path, store_url: str, master_index: Path) -> Iterator[Gateway]:
    gw = make_gateway(tmp_path, store_url, master_index)
    yield gw
    gw.close()
