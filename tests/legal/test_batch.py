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
