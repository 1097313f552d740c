"""The generator's small helpers: TIN rules, typos, dates, street equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from custodes.synth.places import canonical_street, looks_deliverable
from custodes.synth.pools import NICKNAMES, geography, name_pools, strip_accents
from custodes.synth.text import RowRng, read_dob, typo_digits, typo_word, valid_tin


@pytest.mark.parametrize(
    ("tin", "ok"),
    [
        ("123456789", True), ("001010001", True), ("000123456", False), ("666123456", False),
        ("123006789", False), ("123450000", False), ("900701234", True), ("912881234", True),
        ("900691234", False), ("900931234", False), ("999991234", True), ("12345678", False),
    ],
)  # fmt: skip
def test_tin_rules(tin: str, ok: bool) -> None:
    assert valid_tin(tin) is ok


def test_row_rng_is_deterministic() -> None:
    a = RowRng(np.random.Generator(np.random.PCG64(3)))
    b = RowRng(np.random.Generator(np.random.PCG64(3)))
    assert [a.random() for _ in range(100_000)] == [b.random() for _ in range(100_000)]
    assert all(0 <= a.below(7) < 7 for _ in range(1000))
    assert {a.between(2, 4) for _ in range(1000)} == {2, 3, 4}


def test_typos_change_the_value_a_little() -> None:
    rng = RowRng(np.random.Generator(np.random.PCG64(1)))
    for word in ("Danielle", "GARCIA", "Li", "Muñoz"):
        for _ in range(50):
            out = typo_word(word, rng)
            assert out != word
            assert abs(len(out) - len(word)) <= 1
    for _ in range(200):
        out = typo_digits("123456789", rng)
        assert out != "123456789"
        assert len(out) == 9
        assert out.isdigit()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1980-03-15", ("1980-03-15", 1980)), ("03/15/1980", ("1980-03-15", 1980)),
        ("19800315", ("1980-03-15", 1980)), ("13/45/1980", (None, 1980)),
        ("1980-02-30", (None, 1980)), ("unknown", (None, None)), (None, (None, None)),
        ("00/00/0000", (None, None)),
    ],
)  # fmt: skip
def test_read_dob(text: str | None, expected: tuple[str | None, int | None]) -> None:
    when, year = read_dob(text)
    assert (when.isoformat() if when else None, year) == expected


def test_street_spellings_are_one_address() -> None:
    same = [
        "1234 North Main Street Apartment 5", "1234 N Main St #5", "1234 n. main str., apt 5",
        "1234 N MAIN ST UNIT 5", "1234  North Main Strt # 5",
    ]  # fmt: skip
    assert len({canonical_street(s) for s in same}) == 1
    assert canonical_street("P.O. Box 12") == canonical_street("Post Office Box 12") == "PO BOX 12"
    assert canonical_street("5th Ave") == canonical_street("Fifth Avenue")
    assert canonical_street("12 Saint Charles Ave") == canonical_street("12 St Charles Avenue")
    assert canonical_street("12 Main St") != canonical_street("13 Main St")
    assert canonical_street("12 Main St Apt 2") != canonical_street("12 Main St Apt 3")


@pytest.mark.parametrize(
    ("street", "ok"),
    [
        ("123 Main St", True), ("PO Box 55", True), ("P.O. BOX 7", True), ("12 1/2 Oak Ave", True),
        ("UNKNOWN", False), ("Don't Care 12345", False), ("12345", False), ("Banana Keyboard", False),
        ("Main Street", False), ("PO Box", False), ("?", False),
    ],
)  # fmt: skip
def test_looks_deliverable(street: str, ok: bool) -> None:
    assert looks_deliverable(street) is ok


def test_pools_are_large_and_varied() -> None:
    pools = name_pools()
    assert len(pools.first) > 500
    assert len(set(pools.surnames)) > 1000
    assert {"García", "Nguyen", "Washington", "Kowalski", "Patel", "de la Cruz"} <= set(pools.surnames)
    assert pools.particle_surname.sum() >= 10
    geo = geography()
    assert 250 <= len(geo.city) <= 400
    big = np.sort(np.diff(np.r_[0, geo.city_cum]))[::-1]
    assert big[:5].sum() > 0.25, "a few big cities hold much of the population"
    assert strip_accents("Muñoz Zoë Łukasz Đorđević") == "Munoz Zoe Lukasz Dordevic"
    assert "Pepe" in NICKNAMES["José"]
    assert "Bill" in NICKNAMES["William"]
