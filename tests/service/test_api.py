"""The API under hostile and careless use, online verification, and secrets kept out of logs."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update

from custodes.errors import AuthenticationError
from custodes.ledger.keys import load_keys
from custodes.service import keys as keys_module
from custodes.service.records import StandingBasis
from custodes.store.schema import api_keys, batches, standing_bases
from tests.service.conftest import DHS, DOJ, STAFF, World, batch_csv, manifest_bytes, submit
from tests.test_gateway import REQUESTS

SUBJECT = {
    "request_id": "Q-1",
    "first_name": "Anna",
    "last_name": "Kowalski",
    "dob": "2001-05-05",
    "street": "9 Oak Ave Apt 3",
    "city": "Peoria",
    "state": "IL",
    "zip": "61602",
}
FIELDS = (
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
    "case_reference",
)


def register_basis(world: World, basis_id: str = "DHS-ONLINE-2026", agency: str = DHS) -> None:
    world.desk.register_basis(
        StandingBasis(
            id=basis_id,
            agency=agency,
            legal_basis="26 USC 6103(i)(2)",
            statutory_authority="8 USC 1253(a)(1)",
            taxable_periods=("2023", "2024"),
            reason="Each named person is the subject of a pending nontax criminal investigation under the cited statute.",
            signer_name="A. Synthetic",
            signer_title="Secretary of Homeland Security" if agency == DHS else "Attorney General",
            disclosure_profile="verify_only",
            expires_at=datetime.now(UTC) + timedelta(days=30),
            registered_by="Pat Morgan",
        )
    )


def verify(
    world: World, subject: dict[str, object], who: str = "dhs", basis: str = "DHS-ONLINE-2026", **headers: str
) -> object:
    return world.client.post(
        "/v1/verifications",
        json={"standing_basis": basis, "subject": subject},
        headers={**world.auth(who), **headers},
    )


# -- online verification ---------------------------------------------------------------


def test_an_online_verification_answers_like_a_batch_row(world: World) -> None:
    register_basis(world)
    answer = verify(world, SUBJECT)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "request_id": "Q-1",
        "outcome": "match",
        "reason": None,
        "address_status": "current",
    }
    assert answer.headers["custodes-verification-id"].startswith("v-")
    # the same subject in a batch gets the same row
    batch = submit(
        world,
        rows=[["Q-1", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""]],
    )
    public_id = batch.json()["id"]
    world.desk.process_next()
    world.client.post(f"/v1/batches/{public_id}/release", headers=world.auth("Olu Adeyemi"))
    csv_text = world.client.get(f"/v1/batches/{public_id}/response", headers=world.auth("dhs")).text
    assert csv_text.splitlines()[1] == "Q-1,match,,current"
    refused = verify(world, {**SUBJECT, "request_id": "Q-2", "street": "Unknown Address"})
    assert refused.json() == {
        "request_id": "Q-2",
        "outcome": "refused",
        "reason": "placeholder_address",
        "address_status": None,
    }


def test_a_standing_basis_is_read_from_the_store_once_and_its_expiry_still_checked(world: World) -> None:
    """A registered basis never changes, so each process reads it once; an unknown id is read each time."""
    register_basis(world)
    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM standing_bases" in statement:
            reads.append(statement)

    event.listen(world.desk.engine, "before_cursor_execute", count)
    try:
        for n in range(3):
            assert verify(world, {**SUBJECT, "request_id": f"C-{n}"}).status_code == 200
        assert len(reads) == 1
        assert verify(world, SUBJECT, basis="NO-SUCH-BASIS").status_code == 404
        assert verify(world, SUBJECT, basis="NO-SUCH-BASIS").status_code == 404
        assert len(reads) == 3  # not found is not remembered: the basis may be registered next
    finally:
        event.remove(world.desk.engine, "before_cursor_execute", count)
    # the remembered basis still expires: its expiry is compared with the clock on each use
    cached = world.desk._bases["DHS-ONLINE-2026"]
    world.desk._bases["DHS-ONLINE-2026"] = replace(
        cached, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    expired = verify(world, {**SUBJECT, "request_id": "C-9"})
    assert expired.status_code == 403
    assert expired.json()["rule"] == "standing_basis_expired"


def test_an_online_verification_is_accounted_and_provable(world: World) -> None:
    register_basis(world)
    answer = verify(world, SUBJECT)
    verification = answer.headers["custodes-verification-id"]
    proof = world.client.get(
        "/v1/log/proof/inclusion", params={"batch_id": verification, "request_id": "Q-1"}
    )
    assert proof.status_code == 200, proof.text
    from custodes.ledger.verify import verify_inclusion_bundle

    verifier = load_keys(world.settings.home, world.settings.log_origin).verifier
    assert b'"outcome":"match"' in verify_inclusion_bundle(proof.json(), verifier)


def test_an_idempotency_key_replays_the_first_answer_and_never_acts_twice(world: World) -> None:
    register_basis(world)
    first = verify(world, SUBJECT, **{"Idempotency-Key": "retry-1"})
    second = verify(world, SUBJECT, **{"Idempotency-Key": "retry-1"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == first.json()
    assert second.headers["custodes-verification-id"] == first.headers["custodes-verification-id"]
    assert (first.headers["idempotency-replayed"], second.headers["idempotency-replayed"]) == (
        "false",
        "true",
    )
    with world.desk.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar_one() == 1
    reused = verify(world, {**SUBJECT, "first_name": "Marta"}, **{"Idempotency-Key": "retry-1"})
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    bad_key = verify(world, SUBJECT, **{"Idempotency-Key": "has space"})
    assert bad_key.status_code == 422


def test_a_standing_basis_of_another_agency_or_expired_is_forbidden(world: World) -> None:
    register_basis(world)
    register_basis(world, "DOJ-ONLINE-2026", DOJ)
    other = verify(world, SUBJECT, basis="DOJ-ONLINE-2026")
    assert (other.status_code, other.json()["rule"]) == (403, "standing_basis_of_another_agency")
    with world.desk.engine.begin() as conn:
        conn.execute(update(standing_bases).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    expired = verify(world, SUBJECT)
    assert (expired.status_code, expired.json()["rule"]) == (403, "standing_basis_expired")
    assert verify(world, SUBJECT, basis="NO-SUCH-BASIS").status_code == 404
    staff = verify(world, SUBJECT, who="Olu Adeyemi")
    assert (staff.status_code, staff.json()["rule"]) == (403, "only_agencies_verify")


def test_a_basis_that_the_legal_checks_refuse_cannot_be_registered(world: World) -> None:
    from custodes.errors import PermissionDeniedError, UserInputError

    good = {
        "id": "X", "agency": DHS, "legal_basis": "26 USC 6103(i)(2)", "statutory_authority": "26 USC 7201",
        "taxable_periods": ("2024",), "reason": "Each named person is the subject of a pending nontax criminal investigation.",
        "signer_name": "A", "signer_title": "Secretary of Homeland Security", "disclosure_profile": "verify_only",
        "expires_at": datetime.now(UTC) + timedelta(days=1), "registered_by": "Pat Morgan",
    }  # fmt: skip
    with pytest.raises(UserInputError, match="tax_administration_statute"):
        world.desk.register_basis(StandingBasis(**good))  # type: ignore[arg-type]
    with pytest.raises(PermissionDeniedError, match="only_policy_admins_register_bases"):
        world.desk.register_basis(
            StandingBasis(**{**good, "statutory_authority": "8 USC 1326", "registered_by": "Olu Adeyemi"})
        )  # type: ignore[arg-type]


# -- hostile input: online ------------------------------------------------------------------


def test_unknown_fields_are_refused(world: World) -> None:
    register_basis(world)
    extra_subject = verify(world, {**SUBJECT, "ssn": "523456789"})
    assert extra_subject.status_code == 422
    assert extra_subject.json()["errors"][0]["loc"] == ["body", "subject", "ssn"]
    assert "523456789" not in extra_subject.text
    extra_top = world.client.post(
        "/v1/verifications",
        json={"standing_basis": "DHS-ONLINE-2026", "subject": SUBJECT, "profile": "x"},
        headers=world.auth("dhs"),
    )
    assert extra_top.status_code == 422


def test_control_characters_in_any_subject_field_are_refused(world: World) -> None:
    register_basis(world)
    for field in FIELDS:
        answer = verify(world, {**SUBJECT, field: "Ann\x00a\x1b[2J"})
        assert answer.status_code == 422, field
        assert answer.json()["errors"][0]["loc"] == ["body", "subject", field]


def test_sql_looking_input_in_every_field_is_just_data(world: World) -> None:
    register_basis(world)
    sql = "x'); DROP TABLE batches; --"
    for field in FIELDS:
        answer = verify(
            world, {**SUBJECT, field: sql, "request_id": f"sql-{field}" if field != "request_id" else sql}
        )
        assert answer.status_code == 200, (field, answer.text)
        assert answer.json()["outcome"] in {"no_match", "refused", "match"}
    with world.desk.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar_one() == len(FIELDS)


# -- hostile input: batches -----------------------------------------------------------------


def test_an_upload_over_the_limit_is_refused_with_413(world: World) -> None:
    rows = [
        [f"R{i}", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""]
        for i in range(5000)
    ]
    answer = submit(world, rows=rows)
    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/payload-too-large")
    with world.desk.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar_one() == 0
    assert not world.desk.files_root.exists() or list(world.desk.files_root.iterdir()) == []


def test_a_streamed_upload_over_the_limit_without_content_length_is_refused(world: World) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="requests"; filename="r.csv"\r\n\r\n'
    ).encode()

    def body() -> object:
        yield head
        for _ in range(300):
            yield b"x" * 1000

    answer = world.client.post(
        "/v1/batches",
        content=body(),  # type: ignore[arg-type]
        headers={**world.auth("dhs"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type", "status", "kind"),
    [
        (b"not multipart at all", "multipart/form-data; boundary=zzz", 422, "invalid-request"),
        (
            b"--zzz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--zzz--\r\n",
            "multipart/form-data; boundary=zzz",
            422,
            "invalid-request",
        ),
        (b"{}", "application/json", 415, "unsupported-media-type"),
        (b"--zzz--\r\n", "multipart/form-data", 422, "invalid-request"),
        (
            b'--zzz\r\nContent-Disposition: form-data; name="manifest"\r\n\r\n{}\r\n--zzz\r\n'
            b'Content-Disposition: form-data; name="requests"; filename="r.csv"\r\n\r\nrequest_id,first_na',
            "multipart/form-data; boundary=zzz",
            422,
            "invalid-request",
        ),
    ],
    ids=["garbage", "part-without-name", "json", "no-boundary", "cut-short"],
)
def test_malformed_multipart_is_refused(
    world: World, body: bytes, content_type: str, status: int, kind: str
) -> None:
    answer = world.client.post(
        "/v1/batches", content=body, headers={**world.auth("dhs"), "Content-Type": content_type}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["type"].endswith("/" + kind)
    assert answer.headers["content-type"] == "application/problem+json"


def test_missing_unknown_and_repeated_parts_are_refused(world: World) -> None:
    only_manifest = world.client.post(
        "/v1/batches",
        headers=world.auth("dhs"),
        files={"manifest": ("m.json", manifest_bytes(), "application/json")},
    )
    assert (only_manifest.status_code, only_manifest.json()["column"]) == (422, "requests")
    unknown = world.client.post(
        "/v1/batches",
        headers=world.auth("dhs"),
        files={
            "manifest": ("m.json", manifest_bytes(), "application/json"),
            "requests": ("r.csv", batch_csv(), "text/csv"),
            "extra": ("e.txt", b"x", "text/plain"),
        },
    )
    assert (unknown.status_code, unknown.json()["column"]) == (422, "extra")
    bad_name = submit(world, filename="../../etc/passwd")
    assert bad_name.status_code == 422
    assert bad_name.json()["type"].endswith("/invalid-batch-file")


def test_a_manifest_of_another_agency_is_forbidden(world: World) -> None:
    answer = submit(world, agency=DOJ)
    assert (answer.status_code, answer.json()["rule"]) == (403, "agency_sees_only_its_own_batches")


def test_a_replayed_batch_id_is_refused_with_409(world: World) -> None:
    assert submit(world).status_code == 202
    again = submit(world)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/batch-exists")
    # another agency may use the same batch_id
    assert (
        submit(world, "doj", agency=DOJ, signed_by={"name": "B", "title": "Attorney General"}).status_code
        == 202
    )


def test_a_broken_manifest_or_file_is_refused_before_anything_is_recorded(world: World) -> None:
    broken = world.client.post(
        "/v1/batches",
        headers=world.auth("dhs"),
        files={
            "manifest": ("m.json", b"{not json", "application/json"),
            "requests": ("r.csv", batch_csv(), "text/csv"),
        },
    )
    assert broken.status_code == 422
    assert broken.json()["type"].endswith("/invalid-manifest")
    unknown_field = submit(world, surprise="field")
    assert (unknown_field.status_code, unknown_field.json()["column"]) == (422, "surprise")
    ragged = submit(world, rows=[["R1", "Anna"]])
    assert ragged.status_code == 422
    assert ragged.json()["type"].endswith("/invalid-batch-file")
    with world.desk.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar_one() == 0


def test_control_characters_in_any_batch_column_or_the_manifest_are_refused(world: World) -> None:
    for column in range(10):
        row = list(REQUESTS[0])
        row[column] = row[column] + "\x07\x00x" if row[column] else "\x1b"
        answer = submit(world, rows=[row])
        assert answer.status_code == 422, answer.text
        assert answer.json()["row"] == 1
    control_in_manifest = submit(
        world, reason="Each named person is \u0000 the subject of a pending nontax investigation."
    )
    assert control_in_manifest.status_code == 422
    with world.desk.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar_one() == 0


def test_sql_looking_values_in_every_batch_column_are_processed_as_data(world: World) -> None:
    sql = "1' OR '1'='1'; DROP TABLE decisions; --"
    rows = [
        [f"R{i}"] + [sql if j == i else v for j, v in enumerate(REQUESTS[0][1:], start=1)]
        for i in range(1, 10)
    ]
    rows.append([sql, *REQUESTS[0][1:]])
    answer = submit(world, rows=rows, batch_id=sql)
    assert answer.status_code == 202, answer.text
    world.desk.process_next()
    status = world.client.get(f"/v1/batches/{answer.json()['id']}", headers=world.auth("Olu Adeyemi")).json()
    assert (status["status"], status["batch_id"]) == ("processed", sql)
    assert sum(c["count"] for c in status["counts"]) == 10


# -- keys --------------------------------------------------------------------------------------


def test_missing_malformed_unknown_expired_and_revoked_keys_get_401(world: World) -> None:
    assert world.client.get("/v1/batches").status_code == 401
    assert world.client.get("/v1/batches", headers={"Authorization": "Basic abc"}).status_code == 401
    assert world.client.get("/v1/batches", headers={"Authorization": "Bearer nope"}).status_code == 401
    forged = "cus_" + "0" * 16 + "_" + "A" * 43
    assert world.client.get("/v1/batches", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    # a real key id with a wrong secret
    real_id = world.keys["dhs"].split("_")[1]
    wrong = f"cus_{real_id}_" + "B" * 43
    assert world.client.get("/v1/batches", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    assert world.client.get("/v1/batches", headers=world.auth("dhs")).status_code == 200
    world.desk.revoke_key(real_id)
    revoked = world.client.get("/v1/batches", headers=world.auth("dhs"))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]
    assert revoked.headers["www-authenticate"] == "Bearer"
    doj_id = world.keys["doj"].split("_")[1]
    with world.desk.engine.begin() as conn:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == doj_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = world.client.get("/v1/batches", headers=world.auth("doj"))
    assert (expired.status_code, "expired" in expired.json()["detail"]) == (401, True)


def test_a_key_verified_before_skips_the_hash_and_is_still_revoked_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service authenticates a known key on its event loop (Desk.authenticate_remembered):
    no slow hash, but the key's row is read every time."""
    key = world.keys["doj"]
    assert world.desk.authenticate_remembered(key) is None  # not verified in this process yet
    caller = world.desk.authenticate(key)

    class NoHash:
        def verify(self, *_: object) -> None:
            raise AssertionError("the slow hash ran for a key verified before")

    monkeypatch.setattr(keys_module, "_HASHER", NoHash())
    assert world.desk.authenticate_remembered(key) == caller
    assert world.client.get("/v1/batches", headers=world.auth("doj")).status_code == 200
    other = key[:-1] + ("B" if key[-1] == "A" else "A")
    for presented in (other, None, "", "nope"):
        assert world.desk.authenticate_remembered(presented) is None
    world.desk.revoke_key(key.split("_")[1])
    with pytest.raises(AuthenticationError, match="revoked"):
        world.desk.authenticate_remembered(key)
    assert world.client.get("/v1/batches", headers=world.auth("doj")).status_code == 401


# -- the HTTP authorisation matrix on a processed batch ------------------------------------------


EXPECTED = {
    "submitter": {"view": 200, "review": 403, "list": 200, "download": 409, "release": 403},
    "other_agency": {"view": 403, "review": 403, "list": 200, "download": 403, "release": 403},
    "disclosure_officer": {"view": 200, "review": 200, "list": 200, "download": 403, "release": 200},
    "auditor": {"view": 200, "review": 403, "list": 200, "download": 403, "release": 403},
    "policy_admin": {"view": 403, "review": 403, "list": 403, "download": 403, "release": 403},
    "oversight": {"view": 200, "review": 403, "list": 200, "download": 403, "release": 403},
}


def test_each_role_gets_what_the_matrix_says_over_http(world: World) -> None:
    batch = submit(world).json()["id"]
    world.desk.process_next()
    # the disclosure officer goes last: after the release, the batch is no longer processed
    for who in ["dhs", "doj", "Avery Chen", "Pat Morgan", "Quinn Ito", "Olu Adeyemi"]:
        role = "other_agency" if who == "doj" else STAFF.get(who, "submitter")
        got = {
            "view": world.client.get(f"/v1/batches/{batch}", headers=world.auth(who)).status_code,
            "review": world.client.get(f"/v1/batches/{batch}/review", headers=world.auth(who)).status_code,
            "list": world.client.get("/v1/batches", headers=world.auth(who)).status_code,
            "download": world.client.get(
                f"/v1/batches/{batch}/response", headers=world.auth(who)
            ).status_code,
            "release": world.client.post(f"/v1/batches/{batch}/release", headers=world.auth(who)).status_code,
        }
        assert got == EXPECTED[role], who
    assert world.client.get(f"/v1/batches/{batch}/response", headers=world.auth("dhs")).status_code == 200


def test_an_agency_lists_only_its_own_batches(world: World) -> None:
    submit(world)
    submit(world, "doj", agency=DOJ, signed_by={"name": "B", "title": "Attorney General"}, batch_id="DOJ-1")
    dhs = world.client.get("/v1/batches", headers=world.auth("dhs")).json()
    assert {b["agency"] for b in dhs} == {DHS}
    assert len(world.client.get("/v1/batches", headers=world.auth("Avery Chen")).json()) == 2


# -- secrets ---------------------------------------------------------------------------------------


def test_no_key_tin_or_custodian_secret_reaches_logs_or_error_bodies(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    register_basis(world)
    bodies: list[str] = []
    tin_subject = {**SUBJECT, "tin": "323-45-6789"}
    bodies.append(verify(world, tin_subject).text)
    bodies.append(verify(world, {**tin_subject, "tin": "323456789\x00"}).text)
    bodies.append(verify(world, {**tin_subject, "ssn": "323456789"}).text)
    bodies.append(verify(world, tin_subject, who="doj").text)
    wrong = "cus_" + world.keys["dhs"].split("_")[1] + "_" + "C" * 43
    bodies.append(world.client.get("/v1/batches", headers={"Authorization": f"Bearer {wrong}"}).text)
    batch = submit(world).json()["id"]
    world.desk.process_next()
    for who in world.keys:
        bodies.append(world.client.post(f"/v1/batches/{batch}/release", headers=world.auth(who)).text)
    bodies.append(
        submit(
            world,
            rows=[["R1", "Jose", "", "Garcia", "", "1 Main St", "X", "IL", "60601", "523456789\x01"]],
            batch_id="B2",
        ).text
    )
    secret = load_keys(world.settings.home, world.settings.log_origin).custodian_secret.hex()
    captured = caplog.text
    assert "denied" in captured  # denials are logged ...
    for text in [captured, *bodies]:
        for key in world.keys.values():
            assert key not in text
            assert key[len("cus_") + 17 :] not in text
        for tin in ("323456789", "323-45-6789", "523456789", "723456789"):
            assert tin not in text
        assert secret not in text


def test_once_its_basis_is_known_a_verification_is_awaited_on_the_event_loop(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker thread waits for the group's commit; what needs the store still goes through ``verify``."""
    register_basis(world)
    register_basis(world, "DOJ-ONLINE-2026", DOJ)
    through_worker: list[str] = []
    real = world.desk.verify

    def counting(caller: object, basis_id: str, *rest: object) -> object:
        through_worker.append(basis_id)
        return real(caller, basis_id, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(world.desk, "verify", counting)
    first = verify(world, {**SUBJECT, "request_id": "E-0"})
    assert first.status_code == 200, first.text
    assert through_worker == ["DHS-ONLINE-2026"]  # the basis is read from the store once
    for n in range(1, 3):  # three answers: the subject's query budget
        answer = verify(world, {**SUBJECT, "request_id": f"E-{n}"})
        assert answer.status_code == 200, answer.text
        assert {**answer.json(), "request_id": "E-0"} == first.json()
        assert answer.headers["custodes-verification-id"].startswith("v-")
    refused = verify(world, {**SUBJECT, "request_id": "E-9", "street": "Unknown Address"})
    assert (refused.json()["outcome"], refused.json()["reason"]) == ("refused", "placeholder_address")
    assert through_worker == ["DHS-ONLINE-2026"]
    # an Idempotency-Key is claimed in the store: the worker path
    keyed = verify(world, {**SUBJECT, "request_id": "E-5"}, **{"Idempotency-Key": "k-5"})
    assert (keyed.status_code, keyed.headers["idempotency-replayed"]) == (200, "false")
    assert through_worker == ["DHS-ONLINE-2026"] * 2
    # a denial is logged and accounted by ``verify``, even for a basis this process knows
    for _ in range(2):
        other = verify(world, SUBJECT, basis="DOJ-ONLINE-2026")
        assert (other.status_code, other.json()["rule"]) == (403, "standing_basis_of_another_agency")
    assert through_worker == ["DHS-ONLINE-2026"] * 2 + ["DOJ-ONLINE-2026"] * 2
    assert "DOJ-ONLINE-2026" in world.desk._bases
    with world.desk.engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(batches).where(batches.c.public_id.like("v-%"))
        ).scalar_one()
    assert stored == 5  # E-0..E-2, E-9 and E-5: every answer is a stored batch
