"""The manifest: structural defects are exit-2 errors naming the field; legal gaps parse fine."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from custodes.contract import CourtOrder, Officer, Signer, check_record_count, read_manifest
from custodes.errors import ManifestError

VALID: dict[str, object] = {
    "batch_id": "DHS-2025-0001",
    "agency": "Department of Homeland Security",
    "legal_basis": "26 USC 6103(i)(2)",
    "statutory_authority": "8 USC 1253(a)(1)",
    "taxable_periods": ["2022", 2023],
    "reason": "Each named person is the subject of a pending nontax criminal investigation.",
    "signed_by": {"name": "A. Synthetic", "title": "Secretary of Homeland Security"},
    "submitted_at": "2025-06-01T12:00:00Z",
}


def write(tmp_path: Path, manifest: object) -> Path:
    path = tmp_path / "batch.manifest.json"
    path.write_text(manifest if isinstance(manifest, str) else json.dumps(manifest), encoding="utf-8")
    return path


def error_for(path: Path) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert str(path) in caught.value.render()
    assert caught.value.hint
    return caught.value


def test_a_complete_manifest_reads_into_typed_fields(tmp_path: Path) -> None:
    officers = [{"name": "O. One", "title": "Special Agent"}]
    order = {"court": "D.D.C.", "docket": "1:25-mj-1", "judge": "Hon. X", "signed_on": "2025-05-01",
             "expires_on": "2025-08-01"}  # fmt: skip
    path = write(
        tmp_path,
        {
            **VALID,
            "engaged_officers": officers,
            "court_order": order,
            "batch_file": "b.csv",
            "record_count": 2,
        },
    )
    manifest = read_manifest(path)
    assert manifest.taxable_periods == ("2022", "2023")
    assert manifest.signed_by == Signer("A. Synthetic", "Secretary of Homeland Security")
    assert manifest.submitted_at == datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert manifest.court_order == CourtOrder(
        "D.D.C.", "1:25-mj-1", "Hon. X", date(2025, 5, 1), date(2025, 8, 1)
    )
    assert manifest.court_order.is_complete
    assert manifest.engaged_officers == (Officer("O. One", "Special Agent"),)
    assert manifest.disclosure_profile == "verify_only"
    assert (manifest.batch_file, manifest.record_count) == ("b.csv", 2)
    assert manifest.raw["taxable_periods"] == ["2022", 2023]
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        {"taxable_periods": []},
        {"reason": ""},
        {"agency": " "},
        {"statutory_authority": ""},
        {"signed_by": {"name": "", "title": ""}},
        {"court_order": {}},
        {"court_order": None},
        {"engaged_officers": []},
        {"disclosure_profile": "address_of_record"},
    ],
)
def test_legally_insufficient_but_well_formed_manifests_parse(
    tmp_path: Path, change: dict[str, object]
) -> None:
    read_manifest(write(tmp_path, {**VALID, **change}))


def test_an_incomplete_court_order_parses_with_the_gaps_as_none(tmp_path: Path) -> None:
    manifest = read_manifest(write(tmp_path, {**VALID, "court_order": {"court": "D.D.C.", "judge": " "}}))
    assert manifest.court_order == CourtOrder(court="D.D.C.")
    assert not manifest.court_order.is_complete


def test_every_missing_required_field_is_listed(tmp_path: Path) -> None:
    manifest = {k: v for k, v in VALID.items() if k not in {"reason", "taxable_periods"}}
    error = error_for(write(tmp_path, manifest))
    assert error.column == "taxable_periods"
    assert "taxable_periods, reason" in error.message


@pytest.mark.parametrize(
    ("change", "column", "text"),
    [
        ({"reasons": "x"}, "reasons", "did you mean 'reason'"),
        ({"notes": "x"}, "notes", "unknown field 'notes'"),
        ({"agency": 7}, "agency", "expected a string, got a number"),
        ({"taxable_periods": "2024"}, "taxable_periods", "expected a list of years"),
        ({"taxable_periods": ["2024", "last year"]}, "taxable_periods[1]", "not a four-digit year"),
        ({"taxable_periods": [True]}, "taxable_periods[0]", "not a four-digit year"),
        ({"submitted_at": "2025-06-01"}, "submitted_at", "RFC 3339"),
        ({"submitted_at": "2025-13-01T12:00:00Z"}, "submitted_at", "RFC 3339"),
        ({"submitted_at": 20250601}, "submitted_at", "expected a string"),
        ({"signed_by": "the Secretary"}, "signed_by", "expected an object"),
        ({"signed_by": {"name": "A"}}, "signed_by.title", "missing required field(s): signed_by.title"),
        ({"signed_by": {"name": "A", "title": "B", "rank": "C"}}, "signed_by.rank", "unknown field"),
        ({"court_order": "1:25-mj-1"}, "court_order", "expected an object"),
        ({"court_order": {"docket": 5}}, "court_order.docket", "expected a string or null"),
        ({"court_order": {"expires_on": "next week"}}, "court_order.expires_on", "not a date"),
        ({"court_order": {"expires_on": "2025-02-30"}}, "court_order.expires_on", "not a date"),
        ({"court_order": {"seal": "x"}}, "court_order.seal", "unknown field"),
        ({"disclosure_profile": "everything"}, "disclosure_profile", "not a disclosure profile"),
        ({"record_count": "12"}, "record_count", "not a whole number"),
        ({"record_count": True}, "record_count", "not a whole number"),
        ({"record_count": -1}, "record_count", "not a whole number"),
        ({"engaged_officers": "O. One"}, "engaged_officers", "expected a list"),
        ({"engaged_officers": [{"name": "O. One"}]}, "engaged_officers[0].title", "missing required"),
        ({"engaged_officers": ["O. One"]}, "engaged_officers[0]", "expected an object"),
        ({"batch_id": "  "}, "batch_id", "blank"),
        ({"batch_file": 3}, "batch_file", "expected a string or null"),
    ],
)
def test_a_structural_defect_names_its_field(
    tmp_path: Path, change: dict[str, object], column: str, text: str
) -> None:
    error = error_for(write(tmp_path, {**VALID, **change}))
    assert error.column == column
    assert text in error.message


def test_every_structural_defect_is_reported_at_once(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, {**VALID, "agency": 1, "record_count": "x"}))
    assert "agency" in error.message
    assert "record_count" in error.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"batch_id": "B",\n "agency": }', "line 2, column 12"),
        ("[1, 2]", "a JSON list, not an object"),
        ('{"batch_id": "A", "batch_id": "B"}', "appears twice"),
        ('{"record_count": NaN}', "not a JSON number"),
    ],
)
def test_json_that_is_not_a_manifest_object(tmp_path: Path, text: str, message: str) -> None:
    assert message in error_for(write(tmp_path, text)).message


def test_a_manifest_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{\n"agency": "Caf\xe9"}')
    assert "line 2" in error_for(path).message


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(VALID).encode())
    assert read_manifest(path).batch_id == "DHS-2025-0001"


def test_a_missing_manifest_file_is_named(tmp_path: Path) -> None:
    assert "cannot read" in error_for(tmp_path / "absent.json").message


def test_record_count_and_batch_file_must_agree_with_the_batch(tmp_path: Path) -> None:
    frame = pl.DataFrame({"request_id": ["R1", "R2"]})
    manifest = read_manifest(write(tmp_path, {**VALID, "batch_file": "in/b.csv", "record_count": 2}))
    check_record_count(manifest, Path("b.csv"), frame)
    with pytest.raises(ManifestError) as caught:
        check_record_count(manifest, Path("b.csv"), frame.head(1))
    assert caught.value.column == "record_count"
    assert "2" in caught.value.message
    assert "1 rows" in caught.value.message
    with pytest.raises(ManifestError) as caught:
        check_record_count(manifest, Path("other.csv"), frame)
    assert caught.value.column == "batch_file"
    assert "other.csv" in caught.value.message


def test_without_record_count_or_batch_file_any_batch_agrees(tmp_path: Path) -> None:
    check_record_count(
        read_manifest(write(tmp_path, VALID)), Path("x.csv"), pl.DataFrame({"request_id": ["R"]})
    )
