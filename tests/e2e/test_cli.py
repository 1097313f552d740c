"""The command line as a user runs it: real processes, real files, exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows
from tests.test_gateway import REQUESTS, write_batch


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUSTODES_HOME": str(home), "COLUMNS": "200"}
    env.pop("CUSTODES_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "custodes", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    master = pl.DataFrame(MASTER_ROWS + filler_rows(3000), schema=COLUMNS, orient="row")
    master_path = root / "master.csv"
    master.write_csv(master_path)
    assert run(root / "home", "init").returncode == 0
    loaded = run(root / "home", "master", "load", str(master_path))
    assert loaded.returncode == 0, loaded.stderr
    return root / "home"


def test_verify_prints_a_summary_by_outcome_and_reason(home: Path, tmp_path: Path) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS, batch_id="CLI-1")
    done = run(home, "verify", str(batch), "--manifest", str(man), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "placeholder_address" in done.stdout
    assert "matched" in done.stdout
    assert (tmp_path / "out" / "response.csv").exists()
    assert (tmp_path / "out" / "decisions.parquet").exists()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b, m: b.write_text("request_id,first_nme,last_name\nR1,A,B\n"), "first_name"),
        (lambda b, m: b.write_bytes(b"request_id,first_name\nR1,\xff\xfe\n"), "UTF-8"),
        (lambda b, m: b.write_text(""), "empty"),
        (lambda b, m: m.write_text("{not json"), "JSON"),
        (lambda b, m: m.write_text(json.dumps({"batch_id": "X"})), "agency"),
        (lambda b, m: b.write_text(b.read_text() + b.read_text().splitlines()[1] + "\n"), "R1"),
        (
            lambda b, m: b.write_text(
                "request_id,first_name,middle_name,last_name,dob,street,city,state,zip\nR1,A,,B,,1 A St,X,IL\n"
            ),
            "row",
        ),
    ],
    ids=[
        "misspelt-column",
        "not-utf8",
        "empty-file",
        "manifest-not-json",
        "manifest-missing-fields",
        "duplicate-request-id",
        "ragged-row",
    ],
)
def test_bad_input_exits_2_naming_the_file_and_writes_nothing(
    home: Path, tmp_path: Path, mutate: object, expected: str
) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS, batch_id="CLI-BAD")
    assert callable(mutate)
    mutate(batch, man)
    done = run(home, "verify", str(batch), "--manifest", str(man), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert ("requests.csv" in done.stderr) or ("manifest" in done.stderr)
    assert not (tmp_path / "out").exists()


def test_a_reused_batch_id_exits_2(home: Path, tmp_path: Path) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS, batch_id="CLI-DUP")
    assert (
        run(home, "verify", str(batch), "--manifest", str(man), "--out", str(tmp_path / "o1")).returncode == 0
    )
    again = run(home, "verify", str(batch), "--manifest", str(man), "--out", str(tmp_path / "o2"))
    assert again.returncode == 2
    assert "CLI-DUP" in again.stderr
    assert "new batch_id" in again.stderr


def test_verify_without_init_says_what_to_do(tmp_path: Path) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS)
    done = run(
        tmp_path / "nowhere", "verify", str(batch), "--manifest", str(man), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 1
    assert "custodes init" in done.stderr
