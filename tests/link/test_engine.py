from __future__ import annotations

import polars as pl

from custodes.link import DuckDBLinker
from tests.link.conftest import TODAY, request_frame


def decide(linker: DuckDBLinker, *rows: tuple[object, ...]) -> list[dict[str, object]]:
    result = linker.link(request_frame(list(rows)), today=TODAY)
    return result.decisions.sort("rid").to_dicts()


def test_a_clean_request_matches_with_current_address(linker: DuckDBLinker) -> None:
    (d,) = decide(
        linker,
        (1, "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""),
    )
    assert (d["outcome"], d["tin"], d["address_status"]) == ("match", "323456789", "current")


def test_twins_are_told_apart_by_first_name_only_when_it_is_given(linker: DuckDBLinker) -> None:
    named, unnamed = decide(
        linker,
        (1, "Marta", "", "Kowalski", "2001-05-05", "9 Oak Avenue #3", "Peoria", "IL", "61602", ""),
        (2, "A", "", "Kowalski", "2001-05-05", "9 Oak Avenue #3", "Peoria", "IL", "61602", ""),
    )
    assert (named["outcome"], named["tin"]) == ("match", "423456789")
    assert unnamed["outcome"] != "match"


def test_a_misspelling_that_fits_both_twins_is_ambiguous(linker: DuckDBLinker) -> None:
    (d,) = decide(
        linker,
        (1, "Danie", "", "Ortiz", "1999-01-02", "5 Birch Court", "Elgin", "IL", "60120", ""),
    )
    assert d["outcome"] == "ambiguous"
    assert d["tin"] is None


def test_jr_sr_without_dob_is_not_a_match(linker: DuckDBLinker) -> None:
    (d,) = decide(linker, (1, "John", "Q", "Smith", "", "12 Elm St", "Springfield", "IL", "62701", ""))
    assert d["outcome"] == "ambiguous"
    assert d["tin"] is None


def test_jr_sr_with_dob_or_suffix_matches_the_right_generation(linker: DuckDBLinker) -> None:
    by_dob, by_suffix = decide(
        linker,
        (1, "John", "Q", "Smith", "1990-07-01", "12 Elm St", "Springfield", "IL", "62701", ""),
        (2, "John", "Q", "Smith Sr", "", "12 Elm St", "Springfield", "IL", "62701", ""),
    )
    assert (by_dob["outcome"], by_dob["tin"]) == ("match", "223456789")
    assert (by_suffix["outcome"], by_suffix["tin"]) == ("match", "123456789")


def test_previous_address_is_reported_as_previous(linker: DuckDBLinker) -> None:
    (d,) = decide(
        linker,
        (
            1,
            "Jose",
            "L",
            "Garcia-Lopez",
            "1975-11-30",
            "400 N Main St",
            "Chicago",
            "IL",
            "60601",
            "",
        ),
    )
    assert (d["outcome"], d["tin"], d["address_status"]) == ("match", "523456789", "previous")


def test_second_surname_only_and_accents_still_match(linker: DuckDBLinker) -> None:
    (d,) = decide(
        linker,
        (
            1,
            "JOSE",
            "",
            "LOPEZ",
            "1975-11-30",
            "77 Lake Shore Drive Unit 9",
            "Chicago",
            "IL",
            "60611",
            "",
        ),
    )
    assert (d["outcome"], d["tin"], d["address_status"]) == ("match", "523456789", "current")


def test_a_relative_not_on_file_is_never_handed_a_household_member(linker: DuckDBLinker) -> None:
    (d,) = decide(
        linker,
        (
            1,
            "Carlos",
            "",
            "Garcia",
            "2008-04-04",
            "77 Lake Shore Dr Unit 9",
            "Chicago",
            "IL",
            "60611",
            "",
        ),
    )
    assert d["outcome"] == "no_match"
    assert d["tin"] is None


def test_nickname_and_po_box(linker: DuckDBLinker) -> None:
    (d,) = decide(linker, (1, "Bill", "", "Baker", "1955-09-09", "P.O. Box 77", "Urbana", "IL", "61801", ""))
    assert (d["outcome"], d["tin"], d["address_status"]) == ("match", "723456789", "current")


def test_every_request_gets_exactly_one_decision(linker: DuckDBLinker) -> None:
    rows = [(i, "Zed", "", f"Nobody{i}", "", "1 Nowhere Rd", "X", "IL", "00001", "") for i in range(5)]
    decisions = linker.link(request_frame(rows), today=TODAY).decisions
    assert decisions.height == 5
    assert decisions.get_column("rid").to_list() == list(range(5))
    assert set(decisions.get_column("outcome")) == {"no_match"}
    assert decisions.filter(pl.col("reason") == "no_candidate").height == 5


def test_the_other_gender_form_of_a_name_is_a_different_person(linker: DuckDBLinker) -> None:
    # Paula, a twin sister not on file, is not a misspelling of Paul
    (d,) = decide(linker, (1, "Paula", "", "Novak", "1980-01-01", "3 Fir St", "Joliet", "IL", "60431", ""))
    assert d["outcome"] == "no_match"
    (control,) = decide(
        linker, (1, "Paul", "", "Novak", "1980-01-01", "3 Fir St", "Joliet", "IL", "60431", "")
    )
    assert (control["outcome"], control["tin"]) == ("match", "133456789")


def test_a_name_alone_never_identifies_a_person(linker: DuckDBLinker) -> None:
    (d,) = decide(linker, (1, "Jose", "Luis", "Garcia Lopez", "", "1 Other Rd", "Peoria", "IL", "61602", ""))
    assert d["outcome"] == "no_match"
    assert d["tin"] is None
