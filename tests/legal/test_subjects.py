"""Per-subject legal elements: vectorised for batches, Cedar for single requests, same answers."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.codes import Reason
from custodes.config import I2, BasisRule, Settings
from custodes.legal.subjects import (
    SUBJECT_COLUMNS,
    check_subject,
    check_subjects,
    subject_refusals,
    tin_acceptable,
)

BASIS = Settings().bases[I2]
STRICT = BasisRule(name=I2, signer_titles=BASIS.signer_titles, requires_case_reference=True)

GOOD = {"first_name": "Ana", "last_name": "Reyes", "street": "12 Elm St", "tin": "", "case_reference": ""}


def frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(SUBJECT_COLUMNS, pl.Utf8))


PLACEHOLDER_STREETS = [
    "Failed to Provide", "Unknown Address", "UNKNOWN", "NONE", "N/A", "General Delivery",
    "See attached", "Don't Care 12345", "Dont Care", "12345", "00000", "?", "123 Fake St",
    "Homeless", "Refused", "No address given", "TBD", "Same as above", "Not Available", "unk",
    "---", "xxx", "Banana Keyboard", "0 Main St", "1 Main St",
]  # fmt: skip
REAL_STREETS = [
    "1234 N Main St Apt 5", "PO Box 77", "P.O. Box 1846", "12B Elm Street", "4500-A Ocean Blvd",
    "634 RIDGE", "180 9th", "233 1/2 Beach Av", "9190 E Park # 31", "5695 RIDGE, APARTMENT 8",
    "2255 5TH APARTMENT C", "504 BEACH AVN", "77 Avenue of the Americas", "1 Rue de la Paix",
    "17440 E ABBEY STREET", "15616  Chestnut Drive",
]  # fmt: skip


@pytest.mark.parametrize("street", PLACEHOLDER_STREETS)
def test_placeholder_and_non_deliverable_streets_are_refused(street: str) -> None:
    row = {**GOOD, "street": street}
    assert check_subjects(frame([row]), BASIS).to_list() == [Reason.PLACEHOLDER_ADDRESS.value]
    assert check_subject(row, BASIS) is Reason.PLACEHOLDER_ADDRESS


@pytest.mark.parametrize("street", REAL_STREETS)
def test_real_street_forms_are_deliverable(street: str) -> None:
    row = {**GOOD, "street": street}
    assert check_subjects(frame([row]), BASIS).to_list() == [None]


def test_a_correct_tin_never_substitutes_for_the_address() -> None:
    row = {**GOOD, "street": "Unknown Address", "tin": "123-45-6789"}
    assert check_subject(row, BASIS) is Reason.PLACEHOLDER_ADDRESS


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"first_name": ""}, Reason.MISSING_NAME),
        ({"last_name": "  "}, Reason.MISSING_NAME),
        ({"first_name": "FNU"}, Reason.MISSING_NAME),
        ({"last_name": "Unknown"}, Reason.MISSING_NAME),
        ({"street": ""}, Reason.MISSING_ADDRESS),
        ({"street": None}, Reason.MISSING_ADDRESS),
        ({"tin": "12345678"}, Reason.INVALID_TIN),
        ({"tin": "12345678A"}, Reason.INVALID_TIN),
        ({"tin": "000-12-3456"}, Reason.INVALID_TIN),
        ({"tin": "666123456"}, Reason.INVALID_TIN),
        ({"tin": "123006789"}, Reason.INVALID_TIN),
        ({"tin": "123450000"}, Reason.INVALID_TIN),
        ({"tin": "912-45-6789"}, Reason.INVALID_TIN),
    ],
)
def test_each_subject_element_refuses_with_its_own_code(change: dict[str, str], reason: Reason) -> None:
    row = {**GOOD, **change}
    assert check_subjects(frame([row]), BASIS).to_list() == [reason.value]
    assert check_subject(row, BASIS) is reason


@pytest.mark.parametrize("tin", ["", "123-45-6789", "123 45 6789", "912-70-1234", "999-94-0001"])
def test_acceptable_tins(tin: str) -> None:
    assert check_subject({**GOOD, "tin": tin}, BASIS) is None


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Baby Girl", "Reyes"), ("MALE CHILD", "Reyes"), ("Son Of", "Reyes"), ("Gentleman Of", "Reyes"),
        ("Senora", "Reyes"), ("hija", "Reyes"), ("Grandchild", "Reyes"), ("Mrs.", "Reyes"),
        ("Lady of the House", "Reyes"), ("Ana", "Occupant"), ("Ana", "Of The Home"),
        ("Ana", "head of household"),
    ],
)  # fmt: skip
def test_a_description_instead_of_a_name_names_nobody(first: str, last: str) -> None:
    row = {**GOOD, "first_name": first, "last_name": last}
    assert check_subjects(frame([row]), BASIS).to_list() == [Reason.MISSING_NAME.value]
    assert check_subject(row, BASIS) is Reason.MISSING_NAME


@pytest.mark.parametrize(
    ("first", "last"),
    [("Son", "Nguyen"), ("Lady", "Reyes"), ("The", "Reyes"), ("Ana", "House"), ("Ana", "Friend"),
     ("Ana", "Child"), ("Ana", "Male"), ("Boyd", "Reyes"), ("Mason", "Home")],
)  # fmt: skip
def test_given_names_and_surnames_that_are_also_words_are_names(first: str, last: str) -> None:
    assert check_subject({**GOOD, "first_name": first, "last_name": last}, BASIS) is None


def test_case_reference_is_required_only_where_the_basis_says_so() -> None:
    assert check_subject(GOOD, BASIS) is None
    assert check_subject(GOOD, STRICT) is Reason.MISSING_CASE_REFERENCE
    assert check_subject({**GOOD, "case_reference": "A123-2025-06-01"}, STRICT) is None


def test_the_first_failed_element_is_reported() -> None:
    row = {"first_name": "", "last_name": "Reyes", "street": "Unknown", "tin": "1", "case_reference": ""}
    assert check_subject(row, BASIS) is Reason.MISSING_NAME


texts = st.one_of(
    st.none(), st.sampled_from(["", "Ana", "FNU", "N/A", "Reyes", "Unknown", "x"]), st.text(max_size=12)
)
streets = st.one_of(st.none(), st.sampled_from(PLACEHOLDER_STREETS + REAL_STREETS), st.text(max_size=25))
tins = st.one_of(
    st.none(), st.sampled_from(["", "123-45-6789", "000123456", "9127"]), st.text("0123456789- ", max_size=11)
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"first_name": texts, "last_name": texts, "street": streets, "tin": tins, "case_reference": texts}
        ),
        min_size=1,
        max_size=5,
    )
)
def test_the_vectorised_layer_and_the_cedar_layer_agree(rows: list[dict[str, str | None]]) -> None:
    for basis in (BASIS, STRICT):
        vectorised = check_subjects(frame(rows), basis).to_list()
        cedar = [(r.value if (r := check_subject(row, basis)) else None) for row in rows]
        assert vectorised == cedar


@pytest.mark.parametrize(
    "name", ["LNU", "N/A", "n.a.", "NONE", "x", "XXX", "123", "--", "Unknown Unknown", "?", "TBD", "No Name"]
)
def test_placeholder_names_are_not_names(name: str) -> None:
    assert check_subject({**GOOD, "last_name": name}, BASIS) is Reason.MISSING_NAME


@pytest.mark.parametrize("name", ["Na", "O'Brien", "de la Cruz", "García López", "Ng", "Xu", "Nonez"])
def test_real_names_are_names(name: str) -> None:
    assert check_subject({**GOOD, "last_name": name}, BASIS) is None


@pytest.mark.parametrize(
    "tin", ["900-12-3456", "900-66-1234", "900-89-1234", "900-93-1234", "1234567890", "123.45.6789"]
)
def test_impossible_itins_and_malformed_tins_are_invalid(tin: str) -> None:
    assert check_subject({**GOOD, "tin": tin}, BASIS) is Reason.INVALID_TIN


def test_frames_and_rows_without_the_optional_columns_are_checked() -> None:
    minimal = pl.DataFrame({"first_name": ["Ana"], "last_name": ["Reyes"], "street": ["12 Elm St"]})
    assert check_subjects(minimal, BASIS).to_list() == [None]
    assert check_subjects(minimal, STRICT).to_list() == [Reason.MISSING_CASE_REFERENCE.value]
    assert check_subject({"first_name": "Ana", "last_name": "Reyes", "street": "12 Elm St"}, BASIS) is None


def test_every_failed_element_is_listed_in_order() -> None:
    row = {"first_name": "FNU", "last_name": "Reyes", "street": "Unknown", "tin": "1", "case_reference": None}
    assert subject_refusals(row, STRICT) == (
        Reason.MISSING_NAME,
        Reason.PLACEHOLDER_ADDRESS,
        Reason.INVALID_TIN,
        Reason.MISSING_CASE_REFERENCE,
    )


def test_the_tin_rule_holds_over_every_area_and_group() -> None:
    def possible(tin: str) -> bool:
        area, group, serial = int(tin[:3]), int(tin[3:5]), int(tin[5:])
        if serial == 0:
            return False
        if area >= 900:
            return any(lo <= group <= hi for lo, hi in ((50, 65), (70, 88), (90, 92), (94, 99)))
        return area not in (0, 666) and group != 0

    tins = [f"{a:03d}-{g:02d}-{s:04d}" for a in range(1000) for g in range(100) for s in (0, 1, 9999)]
    got = pl.DataFrame({"tin": tins}).select(tin_acceptable())["tin"].to_list()
    assert [t for t, ok in zip(tins, got, strict=True) if ok != possible(t.replace("-", ""))] == []
