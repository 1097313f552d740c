"""The whole batch workflow over HTTP: submit, process, release by a second person, download, prove."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select

from custodes.ledger.keys import load_keys
from custodes.ledger.verify import verify_inclusion_bundle
from custodes.store.schema import batches
from tests.service.conftest import DHS, World, submit


def test_submit_process_release_download_and_prove_one_row(world: World) -> None:
    accepted = submit(world)
    assert accepted.status_code == 202, accepted.text
    batch = accepted.json()["id"]
    assert accepted.headers["location"] == f"/v1/batches/{batch}"
    assert world.client.get(f"/v1/batches/{batch}", headers=world.auth("dhs")).json()["status"] == "received"

    assert world.desk.process_next() == batch
    status = world.client.get(f"/v1/batches/{batch}", headers=world.auth("dhs")).json()
    assert (status["status"], status["requests"], status["counts"]) == ("processed", 8, [])
    staff_view = world.client.get(f"/v1/batches/{batch}", headers=world.auth("Olu Adeyemi")).json()
    internal = {(c["outcome"], c["reason"]): c["count"] for c in staff_view["counts"]}
    assert internal[("ambiguous", "several_candidates")] == 1
    assert internal[("refused", "placeholder_address")] == 1

    early = world.client.get(f"/v1/batches/{batch}/response", headers=world.auth("dhs"))
    assert early.status_code == 409
    assert early.json()["type"].endswith("/not-released")

    by_submitter = world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("dhs"))
    assert by_submitter.status_code == 403
    assert by_submitter.json()["rule"] == "submitter_cannot_release_own_batch"

    released = world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("Olu Adeyemi"))
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["released_by"]) == ("released", "Olu Adeyemi")
    again = world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("Dana Reyes"))
    assert again.status_code == 409
    assert again.json()["type"].endswith("/batch-state")

    agency_view = world.client.get(f"/v1/batches/{batch}", headers=world.auth("dhs")).json()
    shown = {(c["outcome"], c["reason"]): c["count"] for c in agency_view["counts"]}
    assert "ambiguous" not in {outcome for outcome, _ in shown}
    assert shown[("refused", "placeholder_address")] == 1

    other = world.client.get(f"/v1/batches/{batch}/response", headers=world.auth("doj"))
    assert other.status_code == 403
    assert other.json()["rule"] == "agency_sees_only_its_own_batches"
    download = world.client.get(f"/v1/batches/{batch}/response", headers=world.auth("dhs"))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = {r["request_id"]: r for r in csv.DictReader(io.StringIO(download.text))}
    assert (rows["R1"]["outcome"], rows["R1"]["address_status"]) == ("match", "current")
    assert rows["R2"]["outcome"] == "no_match"
    assert "323456789" not in download.text

    proof = world.client.get(
        "/v1/log/proof/inclusion", params={"batch_id": "DHS-TEST-1", "request_id": "R1", "agency": DHS}
    )
    assert proof.status_code == 200, proof.text
    verifier = load_keys(world.settings.home, world.settings.log_origin).verifier
    entry = json.loads(verify_inclusion_bundle(proof.json(), verifier))
    assert (entry["request_id"], entry["outcome"], entry["agency"]) == ("R1", "match", DHS)
    assert entry["taxpayer"] is not None
    assert "323456789" not in proof.text

    checkpoint = world.client.get("/v1/log/checkpoint")
    assert checkpoint.status_code == 200
    assert checkpoint.text.startswith(world.settings.log_origin + "\n")
    size = int(checkpoint.text.splitlines()[1])
    consistency = world.client.get("/v1/log/proof/consistency", params={"from": 1, "to": size})
    assert consistency.status_code == 200
    assert consistency.json()["to"] == size


def test_the_submitter_of_a_batch_cannot_release_it_even_as_a_disclosure_officer(world: World) -> None:
    batch = submit(world, "dhs_dana").json()["id"]
    world.desk.process_next()
    denied = world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("Dana Reyes"))
    assert denied.status_code == 403
    assert denied.json()["rule"] == "submitter_cannot_release_own_batch"
    assert (
        world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("Olu Adeyemi")).status_code
        == 200
    )


def test_every_state_change_and_denial_is_in_the_accounting_log(world: World) -> None:
    batch = submit(world).json()["id"]
    world.desk.process_next()
    world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("Pat Morgan"))
    world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("Olu Adeyemi"))
    with world.desk.engine.connect() as conn:
        from custodes.ledger.store import entries

        logged = [
            json.loads(data)
            for data in conn.execute(select(entries.c.data).order_by(entries.c.idx)).scalars()
        ]
    events = [e.get("event") or e["type"] for e in logged if e["type"] != "decision"]
    assert events[:2] == ["agency_added", "agency_added"]
    tail = events[events.index("batch_received") :]
    assert tail == ["batch_received", "batch_processing", "batch", "access_denied", "batch_released"]
    denial = next(e for e in logged if e.get("event") == "access_denied")
    assert (denial["rule"], denial["role"], denial["action"]) == (
        "policy_admin_never_releases",
        "policy_admin",
        "release_batch",
    )
    assert sum(1 for e in logged if e["type"] == "decision") == 8


def test_a_batch_whose_worker_died_is_resumed_and_never_half_released(world: World) -> None:
    batch = submit(world).json()["id"]
    with world.desk.engine.begin() as conn:
        from datetime import UTC, datetime, timedelta

        from custodes.service.records import claim_next

        claimed = claim_next(conn, datetime.now(UTC) - timedelta(hours=1), timedelta(seconds=1))
        assert claimed is not None
    # the claimed worker "died": its lease ran out, nothing of the batch was stored
    status = world.client.get(f"/v1/batches/{batch}", headers=world.auth("Olu Adeyemi")).json()
    assert (status["status"], status["counts"]) == ("processing", [])
    assert (
        world.client.post(f"/v1/batches/{batch}/release", headers=world.auth("Olu Adeyemi")).status_code
        == 409
    )
    assert world.desk.recover() == 1
    assert world.desk.process_next() == batch
    with world.desk.engine.connect() as conn:
        row = conn.execute(
            select(batches.c.status, batches.c.attempts).where(batches.c.public_id == batch)
        ).one()
    assert (row.status, row.attempts) == ("processed", 2)


def test_a_batch_that_keeps_crashing_fails_cleanly(world: World) -> None:
    world.desk.settings = world.settings
    batch = submit(world).json()["id"]
    from datetime import UTC, datetime, timedelta

    from custodes.service.records import claim_next

    for _ in range(world.settings.service.max_attempts):
        with world.desk.engine.begin() as conn:
            assert claim_next(conn, datetime.now(UTC) - timedelta(hours=1), timedelta(seconds=1)) is not None
        world.desk.recover()
    status = world.client.get(f"/v1/batches/{batch}", headers=world.auth("Olu Adeyemi")).json()
    assert status["status"] == "failed"
    assert "not retried" in status["error"]
    assert world.desk.process_next() is None


def test_the_background_worker_processes_a_submitted_batch(template_home: object, tmp_path: object) -> None:
    """With the worker thread on, a submitted batch reaches processed without anyone driving it."""
    import time
    from pathlib import Path

    from fastapi.testclient import TestClient

    from custodes import Settings
    from custodes.config import ServiceConfig
    from custodes.service.api import create_app
    from custodes.store import upgrade
    from tests.service.conftest import make_home, populate

    assert isinstance(template_home, Path)
    assert isinstance(tmp_path, Path)
    home = make_home(template_home, tmp_path / "home")
    settings = Settings(home=home, service=ServiceConfig(poll_seconds=0.05))
    upgrade(settings.store_url)
    app = create_app(settings, worker=True)
    keys = populate(app.state.desk)
    with TestClient(app) as client:
        world = World(desk=app.state.desk, client=client, keys=keys, settings=settings)
        batch = submit(world).json()["id"]
        deadline = time.monotonic() + 60
        status = ""
        while time.monotonic() < deadline and status != "processed":
            status = client.get(f"/v1/batches/{batch}", headers=world.auth("dhs")).json()["status"]
            time.sleep(0.1)
    assert status == "processed"
