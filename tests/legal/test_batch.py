"""Batch-level legal elements: one Cedar rule each; every single defect gives exactly its reason."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from custodes.codes import Reason
from custodes.config import I1, I2, Settings
from custodes.contract import read_manifest
from custodes.legal import BATCH_RULE_ORDER, check_batch
from custodes.legal.batch import reason_is_specific, statute_is_designated, statute_is_tax

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

VALID_I2: dict[str, object] = {
    "batch_id": "B-1",
    "agency": "Department of Homeland Security",
    "legal_basis": I2,
    "statutory_authority": "8 USC 1253(a)(1)",
    "taxable_periods": ["2023", "2024"],
    "reason": "Each named person is the subject of a pending nontax criminal investigation of document fraud under the cited statute.",
    "signed_by": {"name": "A. Synthetic", "title": "Secretary of Homeland Security"},
    "submitted_at": "2026-11-20T12:00:00Z",
}
COURT_ORDER = {
    "court": "U.S. District Court for the District of Columbia",
    "docket": "1:26-mj-00042",
    "judge": "Hon. A. Synthetic",
    "signed_on": "2026-11-01",
    "expires_on": "2027-02-01",
}
VALID_I1: dict[str, object] = {
    **VALID_I2,
    "legal_basis": I1,
    "signed_by": {"name": "Hon. A. Synthetic", "title": "United States Magistrate Judge"},
    "court_order": COURT_ORDER,
}


def verdict(
    tmp_path: Path, manifest: dict[str, object], settings: Settings | None = None, subjects: int = 10
) -> tuple[Reason, ...]:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return check_batch(read_manifest(path), settings or Settings(), NOW, subjects).reasons


@pytest.mark.parametrize("manifest", [VALID_I2, VALID_I1], ids=["i2", "i1"])
def test_a_complete_manifest_passes(tmp_path: Path, manifest: dict[str, object]) -> None:
    assert verdict(tmp_path, manifest) == ()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"agency": "Department of Fishing"}, Reason.UNKNOWN_AGENCY),
        ({"legal_basis": "26 USC 6103(k)(6)"}, Reason.INVALID_LEGAL_BASIS),
        (
            {"signed_by": {"name": "B", "title": "Deputy Secretary of Homeland Security"}},
            Reason.UNAUTHORIZED_SIGNER,
        ),
        ({"signed_by": {"name": "B", "title": "Field Office Director"}}, Reason.UNAUTHORIZED_SIGNER),
        ({"statutory_authority": ""}, Reason.MISSING_STATUTORY_AUTHORITY),
        ({"statutory_authority": "26 USC 7201"}, Reason.TAX_ADMINISTRATION_STATUTE),
        ({"statutory_authority": "26 U.S.C. § 7206"}, Reason.TAX_ADMINISTRATION_STATUTE),
        ({"statutory_authority": "Internal Revenue Code section 7201"}, Reason.TAX_ADMINISTRATION_STATUTE),
        ({"taxable_periods": []}, Reason.MISSING_TAXABLE_PERIODS),
        ({"reason": ""}, Reason.MISSING_SPECIFIC_REASON),
        ({"reason": "law enforcement purposes"}, Reason.MISSING_SPECIFIC_REASON),
        ({"reason": "see attached"}, Reason.MISSING_SPECIFIC_REASON),
        ({"disclosure_profile": "address_of_record"}, Reason.DISCLOSURE_PROFILE_NOT_PERMITTED),
    ],
)
def test_each_missing_written_request_element_is_its_own_refusal(
    tmp_path: Path, change: dict[str, object], reason: Reason
) -> None:
    assert verdict(tmp_path, {**VALID_I2, **change}) == (reason,)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"court_order": None}, Reason.MISSING_COURT_ORDER),
        ({"court_order": {**COURT_ORDER, "docket": ""}}, Reason.MISSING_COURT_ORDER),
        ({"court_order": {**COURT_ORDER, "expires_on": "2026-11-24"}}, Reason.EXPIRED_COURT_ORDER),
        ({"signed_by": {"name": "X", "title": "Secretary of Homeland Security"}}, Reason.UNAUTHORIZED_SIGNER),
    ],
)
def test_court_order_elements(tmp_path: Path, change: dict[str, object], reason: Reason) -> None:
    manifest = {**VALID_I1, **change}
    if manifest.get("court_order") is None:
        manifest.pop("court_order")
    assert verdict(tmp_path, manifest) == (reason,)


def test_an_order_expiring_today_is_still_valid(tmp_path: Path) -> None:
    manifest = {**VALID_I1, "court_order": {**COURT_ORDER, "expires_on": "2026-11-25"}}
    assert verdict(tmp_path, manifest) == ()


def test_engagement_bound_refuses_a_million_subjects_for_one_officer(tmp_path: Path) -> None:
    manifest = {**VALID_I2, "engaged_officers": [{"name": "O. One", "title": "Special Agent"}]}
    assert verdict(tmp_path, manifest, subjects=500) == ()
    assert verdict(tmp_path, manifest, subjects=1_280_000) == (Reason.IMPLAUSIBLE_ENGAGEMENT,)


def test_a_basis_can_require_the_officer_list(tmp_path: Path) -> None:
    settings = Settings()
    strict = replace(settings.bases[I2], requires_engaged_officers=True)
    settings = replace(settings, bases={**settings.bases, I2: strict})
    assert verdict(tmp_path, VALID_I2, settings) == (Reason.MISSING_ENGAGED_OFFICERS,)
    assert verdict(tmp_path, VALID_I2) == ()


def test_several_defects_are_all_reported_in_legal_order(tmp_path: Path) -> None:
    reasons = verdict(
        tmp_path, {**VALID_I2, "statutory_authority": "26 USC 7201", "reason": "", "taxable_periods": []}
    )
    assert reasons == (
        Reason.TAX_ADMINISTRATION_STATUTE,
        Reason.MISSING_TAXABLE_PERIODS,
        Reason.MISSING_SPECIFIC_REASON,
    )


def test_every_forbid_rule_is_named_by_exactly_one_batch_reason_code() -> None:
    text = (Path(__file__).resolve().parents[2] / "src/custodes/legal/policies/batch.cedar").read_text()
    ids = [line.split('"')[1] for line in text.splitlines() if line.strip().startswith("@id(")]
    forbids = set(ids) - {"request_disclosure"}
    assert forbids == {r.value for r in BATCH_RULE_ORDER}
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("statute", "designated", "tax"),
    [
        ("8 USC 1326", True, False),
        ("18 U.S.C. § 1028A", True, False),
        ("8 U. S. C. 1324(a)(1)(A)", True, False),
        ("Title 8, United States Code, Section 1253", True, False),
        ("26 USC 7201", True, True),
        ("IRC § 7201", True, True),
        ("I.R.C. 7206(1)", True, True),
        ("Internal Revenue Code", True, True),
        ("Title 26", True, True),
        ("8 USC 1326; 26 USC 7206", True, True),
        ("the Immigration and Nationality Act", False, False),
        ("8 CFR 241.4", False, False),
        ("", False, False),
        ("CIRCUIT 26", False, False),
    ],
)
def test_statute_citations(statute: str, designated: bool, tax: bool) -> None:
    assert (statute_is_designated(statute), statute_is_tax(statute)) == (designated, tax)


@pytest.mark.parametrize(
    ("reason", "specific"),
    [
        ("", False),
        ("N/A", False),
        ("Investigation.", False),
        ("Law Enforcement Purposes", False),
        ("fraud fraud fraud fraud fraud fraud", False),
        ("see attached list of the subjects", False),
        ("Pending criminal investigation of identity document fraud", True),
        (VALID_I2["reason"], True),
    ],
)
def test_a_specific_reason_is_more_than_boilerplate(reason: str, specific: bool) -> None:
    assert reason_is_specific(str(reason)) is specific


@pytest.mark.parametrize("periods", [["2027"], ["1912"], ["2024", "2099"]])
def test_taxable_periods_are_real_years_up_to_now(tmp_path: Path, periods: list[str]) -> None:
    assert verdict(tmp_path, {**VALID_I2, "taxable_periods": periods}) == (Reason.MISSING_TAXABLE_PERIODS,)


def test_agency_and_title_ignore_case_and_spacing_only(tmp_path: Path) -> None:
    loose = {
        **VALID_I2,
        "agency": "department of  Homeland Security",
        "signed_by": {"name": "A", "title": " secretary of homeland  security "},
    }
    assert verdict(tmp_path, loose) == ()
    acting = {**VALID_I2, "signed_by": {"name": "A", "title": "Secretary of Homeland Security (Acting)"}}
    assert verdict(tmp_path, acting) == (Reason.UNAUTHORIZED_SIGNER,)


def test_an_unsigned_request_is_refused(tmp_path: Path) -> None:
    unsigned = {**VALID_I2, "signed_by": {"name": " ", "title": "Secretary of Homeland Security"}}
    assert verdict(tmp_path, unsigned) == (Reason.UNAUTHORIZED_SIGNER,)


def test_an_unknown_basis_is_refused_for_that_alone(tmp_path: Path) -> None:
    manifest = {**VALID_I2, "legal_basis": "26 USC 6103(k)(6)", "signed_by": {"name": "B", "title": "Clerk"}}
    assert verdict(tmp_path, manifest) == (Reason.INVALID_LEGAL_BASIS,)


def test_a_court_order_does_not_matter_to_a_written_request(tmp_path: Path) -> None:
    manifest = {**VALID_I2, "court_order": {**COURT_ORDER, "expires_on": "2020-01-01", "docket": None}}
    assert verdict(tmp_path, manifest) == ()


def test_nothing_goes_out_under_a_suspended_basis(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(VALID_I2), encoding="utf-8")
    result = check_batch(read_manifest(path), Settings(), NOW, 10, suspended_bases={I2})
    assert (result.allowed, result.reasons, result.reason) == (
        False,
        (Reason.BASIS_SUSPENDED,),
        Reason.BASIS_SUSPENDED,
    )
    allowed = check_batch(read_manifest(path), Settings(), NOW, 10)
    assert (allowed.allowed, allowed.reason) == (True, None)


def test_officers_without_names_are_not_officers(tmp_path: Path) -> None:
    settings = Settings()
    strict = replace(settings.bases[I2], requires_engaged_officers=True)
    settings = replace(settings, bases={**settings.bases, I2: strict})
    nameless = {**VALID_I2, "engaged_officers": [{"name": " ", "title": "Special Agent"}]}
    assert verdict(tmp_path, nameless, settings) == (Reason.MISSING_ENGAGED_OFFICERS,)
    two = {**VALID_I2, "engaged_officers": [{"name": "A", "title": "SA"}, {"name": "B", "title": "SA"}]}
    assert verdict(tmp_path, two, settings, subjects=1000) == ()
    assert verdict(tmp_path, two, settings, subjects=1001) == (Reason.IMPLAUSIBLE_ENGAGEMENT,)
