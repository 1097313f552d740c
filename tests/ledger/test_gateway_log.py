"""What the gateway writes to the log, checked as an overseer would: with the standalone verifier.

Every decision of a verified batch is an entry carrying the fields the law's accounting
needs, the batch entry seals it with the manifest hash and the signer, and one taxpayer's
accounting, given the TIN and its commitment, is proven by ``verify.py`` run on its own.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from custodes import Gateway, Settings
from custodes.disclose import response_digests
from custodes.ledger import (
    accounting_for,
    audit_log,
    commitment,
    latest_checkpoint,
    load_keys,
    prove_index,
    prove_request,
)
from custodes.ledger import verify as verify_module
from custodes.ledger.store import snapshot
from custodes.store import connect
from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows
from tests.test_gateway import NOW, REQUESTS, write_batch

MATCHED_TIN = "323456789"
"""Request R1 matches this taxpayer (tests/test_gateway.py)."""


@pytest.fixture
def gateway(tmp_path: Path, store_url: str) -> Iterator[Gateway]:
    gw = Gateway(Settings(home=tmp_path / "home", database_url=store_url))
    gw.init()
    master = pl.DataFrame(MASTER_ROWS + filler_rows(3000), schema=COLUMNS, orient="row")
    master_path = tmp_path / "master.parquet"
    master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year").write_parquet(
        master_path
    )
    gw.load_master(master_path)
    yield gw
    gw.close()


def _standalone_verify(tmp_path: Path, vkey: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "overseer" / "verify.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(Path(verify_module.__file__).read_text(encoding="utf-8"), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-I", str(script), "--key", vkey, *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": ""},
    )


def test_every_act_of_a_batch_is_an_entry_with_what_the_accounting_needs(
    gateway: Gateway, tmp_path: Path
) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS, batch_id="ACC-1")
    result = gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    decided = pl.read_parquet(result.decisions_path)
    # What the agency received, row by row, and the hash of each row as the log must hold it.
    received = pl.read_csv(result.response_path, infer_schema_length=0)
    digests = dict(zip(received["request_id"], response_digests(received), strict=True))
    keys = load_keys(gateway.settings.home, gateway.settings.log_origin)
    engine = connect(gateway.settings.store_url)
    try:
        with snapshot(engine) as conn:
            assert audit_log(conn, keys.verifier).ok
            checkpoint = latest_checkpoint(conn, keys.origin)
            assert checkpoint.note == result.checkpoint
            entries = [
                json.loads(verify_module.verify_inclusion_bundle(
                    prove_request(conn, keys.origin, "ACC-1", row["request_id"]), keys.verifier
                ))
                for row in decided.iter_rows(named=True)
            ]  # fmt: skip
            last = prove_index(conn, keys.origin, checkpoint.size - 1)
            seal = json.loads(verify_module.verify_inclusion_bundle(last, keys.verifier))
    finally:
        engine.dispose()
    for row, entry in zip(decided.iter_rows(named=True), entries, strict=True):
        assert entry == {
            "type": "decision",
            "v": 1,
            "batch_id": "ACC-1",
            "request_id": row["request_id"],
            "agency": "Department of Homeland Security",
            "basis": "26 USC 6103(i)(2)",
            "outcome": row["outcome"],
            "reason": row["reason"],
            "profile": "verify_only",
            "disclosed_sha256": digests[row["request_id"]],
            "taxpayer": None if row["tin"] is None else commitment(keys.custodian_secret, row["tin"]).hex(),
            "at": "2026-11-25T12:00:00.000000Z",
        }
    manifest_bytes = man.read_bytes()
    assert (seal["type"], seal["batch_id"], seal["decisions"], seal["first_index"]) == (
        "batch",
        "ACC-1",
        len(REQUESTS),
        0,
    )
    assert seal["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert seal["signer"] == json.loads(manifest_bytes)["signed_by"]


def test_one_taxpayers_accounting_is_proven_by_the_standalone_verifier(
    gateway: Gateway, tmp_path: Path
) -> None:
    for batch_id in ("ACC-1", "ACC-2"):
        batch, man = write_batch(tmp_path / batch_id, REQUESTS, batch_id=batch_id)
        gateway.verify_batch(batch, man, tmp_path / f"out-{batch_id}", now=NOW)
    keys = load_keys(gateway.settings.home, gateway.settings.log_origin)
    engine = connect(gateway.settings.store_url)
    try:
        with engine.connect() as conn:
            bundle = accounting_for(conn, keys, MATCHED_TIN)
            nobody = accounting_for(conn, keys, "111111111")
    finally:
        engine.dispose()
    acts = [json.loads(verify_module.decode_base64(act["entry_b64"])) for act in bundle["acts"]]  # type: ignore[attr-defined]
    assert [(a["batch_id"], a["request_id"], a["outcome"]) for a in acts] == [
        ("ACC-1", "R1", "match"),
        ("ACC-2", "R1", "match"),
    ]
    assert nobody["acts"] == []
    (tmp_path / "acts.json").write_text(json.dumps(bundle), encoding="utf-8")
    # The overseer is given the TIN's commitment (and the log's public key), nothing else.
    given = commitment(keys.custodian_secret, MATCHED_TIN).hex()
    vkey = keys.verifier.vkey
    done = _standalone_verify(
        tmp_path, vkey, "accounting", str(tmp_path / "acts.json"), "--commitment", given
    )
    assert (done.returncode, done.stdout.strip()) == (0, "OK 2 acts verified"), done.stderr
    # The same acts do not pass as another taxpayer's accounting.
    other = commitment(keys.custodian_secret, "111111111").hex()
    refused = _standalone_verify(
        tmp_path, vkey, "accounting", str(tmp_path / "acts.json"), "--commitment", other
    )
    assert refused.returncode == 1
    assert f"is not about taxpayer {other}" in refused.stderr
