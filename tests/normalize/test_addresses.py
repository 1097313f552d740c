from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.normalize.addresses import normalize_addresses, normalize_street


@pytest.mark.parametrize(
    ("street", "expected"),
    [
        ("1234 North Main Street Apartment 5", ("1234", "N MAIN ST", "5")),
        ("1234 N Main St #5", ("1234", "N MAIN ST", "5")),
        ("1234 n. main st., apt. 5", ("1234", "N MAIN ST", "5")),
        ("1234 N MAIN ST UNIT 5", ("1234", "N MAIN ST", "5")),
        ("PO Box 77", (None, "PO BOX 77", None)),
        ("P.O. Box 77", (None, "PO BOX 77", None)),
        ("Post Office Box 77", (None, "PO BOX 77", None)),
        ("POB 77", (None, "PO BOX 77", None)),
        ("12B Elm Street", ("12B", "ELM ST", None)),
        ("4500-A Ocean Boulevard", ("4500-A", "OCEAN BLVD", None)),
        ("12 1/2 Oak Lane", ("12 1/2", "OAK LN", None)),
        ("100 West First Avenue Suite 3B", ("100", "W 1ST AVE", "3B")),
        ("55 Saint-Laurent Road", ("55", "SAINT LAURENT RD", None)),
        ("Failed to Provide", (None, "FAILED TO PROVIDE", None)),
        ("", (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_street_lines_take_usps_forms(street: str | None, expected: tuple[str | None, ...]) -> None:
    assert normalize_street(street) == expected


def test_the_same_address_written_two_ways_normalises_equal() -> None:
    assert normalize_street("77 Lake Shore Drive, Unit 9") == normalize_street("77 LAKE SHORE DR #9")


def test_zip_plus_four_in_every_contract_form_gives_zip5() -> None:
    frame = pl.DataFrame(
        {
            "s": ["1 A St"] * 5,
            "z": ["12345", "12345-6789", "123456789", "2134", "123"],
            "c": ["Sp  ringfield"] * 5,
        }
    )
    out = normalize_addresses(frame, "s", "z", "c")
    # a 4-digit ZIP lost its leading zero in a spreadsheet: 2134 is 02134
    assert out.get_column("zip5").to_list() == ["12345", "12345", "12345", "02134", None]
    assert out.get_column("city_std").to_list() == ["SP RINGFIELD"] * 5


@settings(deadline=None)
@given(st.text(max_size=40))
def test_any_text_normalises_without_error_and_is_idempotent_on_street(text: str) -> None:
    house, street, _unit = normalize_street(text)
    if street is not None:
        again = normalize_street(" ".join(x for x in (house, street) if x))
        assert again[1] is not None
