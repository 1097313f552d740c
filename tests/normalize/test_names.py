from __future__ import annotations

import pytest

from custodes.normalize.names import first_name_keys, split_name, standardize_name


@pytest.mark.parametrize(
    ("raw", "std"),
    [
        ("José", "JOSE"),
        ("Muñoz", "MUNOZ"),
        ("O'Brien", "OBRIEN"),
        ("García-López", "GARCIA LOPEZ"),
        ("  ", None),
        (None, None),
        ("Zoë", "ZOE"),
    ],
)
def test_standardize_transliterates_and_splits_on_hyphens(raw: str | None, std: str | None) -> None:
    assert standardize_name(raw) == std


@pytest.mark.parametrize(
    "last", ["García López", "Garcia-Lopez", "Lopez Garcia", "Garcia y Lopez", "GARCIA LOPEZ"]
)
def test_every_form_of_a_two_surname_name_has_the_same_tokens(last: str) -> None:
    assert split_name("Ana", None, last)["last_tokens"] == ["GARCIA", "LOPEZ"]


def test_particles_join_into_one_surname() -> None:
    assert (
        split_name("Juan", None, "de la Cruz")["last_concat"]
        == split_name("Juan", None, "Delacruz")["last_concat"]
    )


def test_generational_suffix_is_taken_out_of_any_field() -> None:
    assert split_name("John", None, "Smith Jr")["suffix"] == "JR"
    assert split_name("John Sr", None, "Smith")["suffix"] == "SR"
    assert split_name("John", None, "Smith Jr")["last_concat"] == "SMITH"


def test_placeholder_names_count_as_missing() -> None:
    parts = split_name("FNU", None, "LNU")
    assert parts["first_tok"] is None
    assert parts["last_concat"] is None


def test_a_second_given_name_in_the_first_field_becomes_a_middle_name() -> None:
    parts = split_name("Mary Ann", None, "Lee")
    assert (parts["first_tok"], parts["middle_std"], parts["middle_init"]) == ("MARY", "ANN", "A")


@pytest.mark.parametrize(
    ("short", "formal"),
    [("BILL", "WILLIAM"), ("BOB", "ROBERT"), ("PEPE", "JOSE"), ("PACO", "FRANCISCO"), ("LUPE", "GUADALUPE")],
)
def test_nicknames_reach_their_formal_names(short: str, formal: str) -> None:
    assert formal in first_name_keys(short)


def test_known_first_names_come_from_the_dictionaries_and_the_master() -> None:
    import polars as pl

    from custodes.normalize.names import KNOWN_NAME_MIN_TAXPAYERS, known_first_names

    tokens = pl.Series("first_tok", ["ZORBLAT"] * KNOWN_NAME_MIN_TAXPAYERS + ["MSRY", None])
    known = set(known_first_names(tokens.value_counts(name="n"))["first_tok"].to_list())
    assert {"MARY", "MARK", "PACO", "FRANCISCO", "ZORBLAT"} <= known
    assert "MSRY" not in known
