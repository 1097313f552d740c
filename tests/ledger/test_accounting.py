"""Entry bytes: canonical JSON, taxpayer commitments, and the fast decision encoder."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.codes import Outcome
from custodes.errors import LedgerError
from custodes.ledger import DecisionEntry, canonical_json, commitment
from custodes.ledger.accounting import (
    KIND_BATCH,
    KIND_DECISION,
    KIND_EVENT,
    DecisionColumns,
    DecisionEncoder,
    _Hmac,
    batch_key,
    encode_mapping,
    entry_request_key,
    entry_taxpayer_key,
    format_time,
    lookup_key,
    request_key,
)
from custodes.ledger.hasher import leaf_hash

from .conftest import AT, decision

SECRET = bytes(range(32))


def reference_fields(d: DecisionEntry, secret: bytes) -> dict[str, object]:
    """The JSON object docs/ledger.md says a decision entry holds."""
    return {
        "type": "decision",
        "v": 1,
        "batch_id": d.batch_id,
        "request_id": d.request_id,
        "agency": d.agency,
        "basis": d.basis,
        "outcome": d.outcome,
        "reason": d.reason,
        "profile": d.profile,
        "disclosed_sha256": d.disclosed_sha256,
        "taxpayer": None
        if d.tin is None
        else hmac.digest(secret, d.tin.replace("-", "").encode(), "sha256").hex(),
        "at": format_time(d.at),
    }


def test_canonical_json_is_sorted_compact_and_minimally_escaped() -> None:
    value = {"b": [1, True, None], "a": 'é\n"\\\x01\u2028', "\U0001f600": 0, "\uff01": 0}
    assert (
        canonical_json(value)
        == ('{"a":"é\\n\\"\\\\\\u0001\u2028","b":[1,true,null],"\U0001f600":0,"\uff01":0}').encode()
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": 1.5}, "float cannot go"),
        ({"x": 1 << 53}, "too large"),
        ({1: "x"}, "keys must be strings"),
        ({"x": "\ud800"}, "not valid Unicode"),
        ({"x": "y" * 70000}, "exceeds 65535"),
        ({"x": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_canonical_json_refuses_what_has_no_canonical_form(value: object, message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        canonical_json(value)


def test_times_are_utc_with_microseconds() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert format_time(datetime(2026, 11, 25, 4, 30, 0, 5, tzinfo=eastern)) == "2026-11-25T09:30:00.000005Z"
    assert canonical_json({"at": AT, "t": (1, 2)}) == b'{"at":"2026-11-25T09:30:00.000000Z","t":[1,2]}'


def test_commitment_is_hmac_sha256_of_the_nine_digits() -> None:
    expected = hmac.new(SECRET, b"123456789", hashlib.sha256).digest()
    assert commitment(SECRET, "123-45-6789") == expected
    assert commitment(SECRET, "123 45 6789") == expected
    for bad in ("12345678", "1234567890", "12345678a", "١٢٣٤٥٦٧٨٩"):
        with pytest.raises(LedgerError, match="9 digits") as info:
            commitment(SECRET, bad)
        assert bad not in str(info.value)


@pytest.mark.parametrize("secret", [b"", bytes(range(32)), bytes(64), bytes(range(100))])
def test_the_fast_hmac_is_hmac_sha256(secret: bytes) -> None:
    messages = [b"123456789", b"", bytes(range(200))]
    assert _Hmac(secret).digests(messages) == [hmac.new(secret, m, hashlib.sha256).digest() for m in messages]


def test_decision_encoder_matches_canonical_json() -> None:
    d = decision("B1", 7)
    encoded = DecisionEncoder(SECRET, "B1").encode([d], 41)
    ((index, kind, rkey, tkey, data),), (leaf,) = list(encoded.rows()), encoded.leaves
    assert (index, leaf) == (41, leaf_hash(data))
    assert data == canonical_json(reference_fields(d, SECRET))
    assert (kind, rkey) == (KIND_DECISION, request_key("B1", d.request_id))
    assert tkey == lookup_key(commitment(SECRET, d.tin or ""))
    entry = json.loads(data)
    assert (entry_request_key(entry), entry_taxpayer_key(entry)) == (rkey, tkey)


def test_decision_encoder_accepts_enums_dashed_tins_and_no_tin() -> None:
    d = replace(decision("B1", 1), outcome=Outcome.MATCH, tin="000-00-0001")
    plain = replace(d, outcome="match", tin="000000001")
    encoder = DecisionEncoder(SECRET, "B1")
    assert encoder.encode([d], 0) == encoder.encode([plain], 0)
    ((_, _, _, tkey, data),) = encoder.encode([replace(d, tin=None)], 0).rows()
    assert tkey is None
    assert json.loads(data)["taxpayer"] is None


def test_decisions_given_one_by_one_may_differ_in_time() -> None:
    later = replace(decision("B1", 2), at=AT + timedelta(seconds=1))
    decisions = [decision("B1", 0), decision("B1", 1), later, decision("B1", 3)]
    encoded = DecisionEncoder(SECRET, "B1").encode(decisions, 10)
    assert [index for index, *_ in encoded.rows()] == [10, 11, 12, 13]
    assert encoded.entries == [canonical_json(reference_fields(d, SECRET)) for d in decisions]
    assert json.loads(encoded.entries[2])["at"] == "2026-11-25T09:30:01.000000Z"


_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        DecisionEntry,
        batch_id=st.just("B"),
        request_id=_text,
        agency=_text,
        basis=_text,
        outcome=_text,
        reason=_text,
        profile=_text,
        disclosed_sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
        tin=st.none() | st.from_regex(r"[0-9]{9}", fullmatch=True),
        at=st.datetimes(timezones=st.just(UTC)),
    )
)
def test_any_decision_encodes_to_its_canonical_json(d: DecisionEntry) -> None:
    (data,) = DecisionEncoder(SECRET, "B").encode([d], 0).entries
    assert data == canonical_json(reference_fields(d, SECRET))
    assert json.loads(data) == json.loads(canonical_json(reference_fields(d, SECRET)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"batch_id": "other"}, "belong to batch .other. cannot be logged in batch .B1."),
        ({"agency": 5}, "agency must be a string"),
        ({"reason": None}, "reason must be a string"),
        ({"disclosed_sha256": "ABC"}, "64 lowercase hex"),
        ({"disclosed_sha256": None}, "64 lowercase hex"),
        ({"request_id": 3}, "request_id must be a string"),
        ({"request_id": "\udc80"}, "not valid Unicode"),
        ({"request_id": "x" * 70000}, "exceeds 65535"),
        ({"tin": "12"}, "9 digits"),
        ({"at": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_decision_encoder_refuses_bad_fields(change: dict[str, object], message: str) -> None:
    bad = replace(decision("B1", 1), **change)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match=message):
        DecisionEncoder(SECRET, "B1").encode([bad], 0)


_decision_rows = st.lists(
    st.tuples(
        _text,
        st.sampled_from(["match", "no_match", "refused", "ambiguous"]),
        _text,
        st.binary(min_size=32, max_size=32).map(bytes.hex),
        st.none() | st.from_regex(r"[0-9]{3}-?[0-9]{2}-?[0-9]{4}", fullmatch=True),
    ),
    max_size=12,
)


def _columns(rows: list[tuple[str, str, str, str, str | None]], batch: str = "B") -> DecisionColumns:
    return DecisionColumns(
        batch_id=batch,
        agency="Department of Homeland Security",
        basis="26 USC 6103(i)(2)",
        profile="verify_only",
        at=AT,
        request_ids=[row[0] for row in rows],
        outcomes=[row[1] for row in rows],
        reasons=[row[2] for row in rows],
        disclosed_sha256=[row[3] for row in rows],
        tins=[row[4] for row in rows],
    )


@settings(max_examples=150, deadline=None)
@given(_decision_rows, st.integers(min_value=0, max_value=1 << 40))
def test_decision_columns_encode_each_row_to_its_canonical_json(
    rows: list[tuple[str, str, str, str, str | None]], first: int
) -> None:
    columns = _columns(rows)
    encoded = DecisionEncoder(SECRET, "B").encode_columns(columns, first)
    assert encoded.first_index == first
    assert len(encoded.entries) == len(encoded.leaves) == len(rows)
    stored = list(encoded.rows())
    for i, (request_id, outcome, reason, disclosed, tin) in enumerate(rows):
        d = DecisionEntry("B", request_id, columns.agency, columns.basis, outcome, reason,
                          columns.profile, disclosed, tin, AT)  # fmt: skip
        index, kind, rkey, tkey, data = stored[i]
        assert data == canonical_json(reference_fields(d, SECRET))
        assert (index, kind, encoded.leaves[i]) == (first + i, KIND_DECISION, leaf_hash(data))
        assert rkey == request_key("B", request_id)
        assert tkey == (None if tin is None else lookup_key(commitment(SECRET, tin)))


def test_decision_columns_slice_into_rows() -> None:
    rows = [(f"R{i}", "no_match", "no_candidate", "ab" * 32, None) for i in range(5)]
    part = _columns(rows).rows(1, 3)
    assert (len(part), list(part.request_ids)) == (2, ["R1", "R2"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tins": [None, "12"]}, "9 digits"),
        ({"tins": [None, 123456789]}, "tin must be a string or null"),
        ({"request_ids": ["R0", 1]}, "request_id must be a string"),
        ({"request_ids": ["R0", "\udc80"]}, "not valid Unicode"),
        ({"disclosed_sha256": ["ab" * 32, "AB" * 32]}, "64 lowercase hex"),
        ({"disclosed_sha256": ["ab" * 32, "ab" * 31]}, "64 lowercase hex"),
        ({"disclosed_sha256": ["ab" * 32, None]}, "64 lowercase hex"),
        ({"outcomes": ["match", ["x"]]}, "outcome and reason must be strings"),
        ({"reasons": ["matched", None]}, "reason must be a string"),
        ({"profile": None}, "profile must be a string"),
        ({"agency": "\udc80"}, "not valid Unicode"),
    ],
)
def test_decision_columns_refuse_bad_fields(change: dict[str, object], message: str) -> None:
    good = replace(_columns([("R0", "match", "matched", "ab" * 32, "123456789")] * 2), **change)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match=message):
        DecisionEncoder(SECRET, "B").encode_columns(good, 0)


def test_decision_columns_must_have_one_length() -> None:
    with pytest.raises(LedgerError, match="differ in length"):
        replace(_columns([("R0", "match", "matched", "ab" * 32, None)]), tins=[])


def test_mappings_get_type_version_commitment_and_keys() -> None:
    kind, rkey, tkey, data = encode_mapping(
        {"batch_id": "B", "tin": "123456789"}, SECRET, "batch", {"decisions": 2}
    )
    entry = json.loads(data)
    assert entry == {
        "batch_id": "B",
        "decisions": 2,
        "taxpayer": commitment(SECRET, "123456789").hex(),
        "type": "batch",
        "v": 1,
    }
    assert (kind, rkey, tkey) == (KIND_BATCH, batch_key("B"), lookup_key(commitment(SECRET, "123456789")))
    kind, rkey, tkey, data = encode_mapping({"event": "release", "tin": None}, SECRET, "event", {})
    assert (kind, rkey, tkey, json.loads(data)["taxpayer"]) == (KIND_EVENT, None, None, None)
    _, rkey, _, _ = encode_mapping({"batch_id": "B", "request_id": "R"}, SECRET, "event", {})
    assert rkey == request_key("B", "R")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "x"}, "set by the ledger"),
        ({"taxpayer": "x"}, "set by the ledger"),
        ({"decisions": 1}, "set by the ledger"),
        ({"tin": 123456789}, "string or null"),
    ],
)
def test_mappings_cannot_forge_ledger_fields(entry: dict[str, object], message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        encode_mapping(entry, SECRET, "batch", {"decisions": 0})


def test_lookup_keys_of_entries_without_them_are_none() -> None:
    assert entry_request_key({"request_id": "R"}) is None
    assert entry_taxpayer_key({"taxpayer": "not hex"}) is None
