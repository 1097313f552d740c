"""The deliverable-address test: the fast path accepts nothing the usaddress parse would refuse."""

from __future__ import annotations

import io
import random
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scourgify.address_constants import STREET_TYPE_ABBREVIATIONS

from custodes.legal import addresses, structure
from custodes.legal.addresses import (
    canonical_core,
    deliverable_streets,
    fast_path_accepts,
    normalise_street,
    parse_all,
    street_core,
    usaddress_accepts,
)

DIRECTIONALS = ["", "N", "E", "SW", "NE", "NORTH", "SOUTHWEST", "W"]
NAMES = [
    "MAIN", "OAK", "ELM", "PARK", "HILL", "LAKE", "BEACH", "RIDGE", "SPRING", "MILL", "CHURCH",
    "WASHINGTON", "MARTIN", "LUTHER", "KING", "SAN", "SANTA", "EL", "CAMINO", "REAL", "NEW",
    "SAINT", "ST", "FORT", "DEL", "LOS", "OF", "THE", "TO", "9TH", "1ST", "42ND", "FIFTH",
    "CENTER", "TOWER", "PLAZA", "UNIVERSITY", "INDUSTRIAL", "PLEASANT", "GENERAL", "DELIVERY",
    "BOX", "PO", "APT", "UNIT", "COUNTY", "ROUTE", "STATE", "HIGHWAY", "US", "A", "B",
]  # fmt: skip
SUFFIXES = sorted(STREET_TYPE_ABBREVIATIONS)
UNITS = ["", "", "APT 5", "# 12", "#4A", "APARTMENT 3", "SUITE 200", "UNIT B", "STE 12B", "LOT 7"]

house = st.one_of(
    st.integers(min_value=0, max_value=999_999).map(str),
    st.from_regex(r"[0-9]{1,5}[A-Z]|[0-9]{1,4}-[0-9A-Z]{1,2}|[NSEW][0-9]{1,4}", fullmatch=True),
)
word = st.one_of(
    st.sampled_from(NAMES), st.sampled_from(SUFFIXES), st.from_regex(r"[A-Z]{1,9}", fullmatch=True)
)
address_like = st.builds(
    lambda number, direction, name, suffix, unit: " ".join(
        p for p in (number, direction, *name, suffix, unit) if p
    ),
    house,
    st.sampled_from(DIRECTIONALS),
    st.lists(word, min_size=0, max_size=4),
    st.one_of(st.sampled_from(SUFFIXES), st.just("")),
    st.sampled_from(UNITS),
)
junk = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(word, st.from_regex(r"[0-9]{1,6}", fullmatch=True)), max_size=6).map(" ".join),
)


def core_of(line: str) -> str:
    return str(pl.select(canonical_core(street_core(pl.lit(line)))).item())


def fast(line: str) -> bool:
    return bool(pl.select(fast_path_accepts(pl.lit(line, dtype=pl.Utf8))).item())


@settings(max_examples=700, deadline=None, derandomize=True)
@given(st.one_of(address_like, address_like, junk))
def test_fast_path_never_accepts_what_usaddress_refuses(raw: str) -> None:
    line = pl.select(normalise_street(pl.lit(raw, dtype=pl.Utf8))).item()
    if fast(line):
        assert usaddress_accepts(core_of(line)), line


def test_fast_path_agrees_with_usaddress_on_a_generated_corpus() -> None:
    rng = random.Random(20251125)
    real = [n for n in NAMES if len(n) > 2] * 3 + SUFFIXES
    lines = [
        " ".join(
            p
            for p in (
                str(rng.randint(1, 99_999)),
                rng.choice(DIRECTIONALS),
                *rng.sample(real, rng.randint(1, 3)),
                rng.choice([*addresses.FAST_STREET_TYPES * 20, *SUFFIXES]),
                rng.choice(["", "N", "SE"]),
                rng.choice(UNITS),
            )
            if p
        )
        for _ in range(12_000)
    ]
    frame = pl.DataFrame({"s": lines}).select(
        fast_path_accepts(pl.col("s")).alias("fast"), canonical_core(street_core(pl.col("s"))).alias("core")
    )
    accepted = frame.filter("fast")["core"].to_list()
    assert len(accepted) > 2500  # the fast path does carry the canonical lines
    assert [core for core in accepted if not usaddress_accepts(core)] == []


@pytest.mark.parametrize(
    ("line", "core"),
    [
        ("1234 N MAIN ST APT 5", "1234 N MAIN ST"),
        ("698 MADISON LANE #4A", "698 MADISON LN"),
        ("12 NORTH ELM STR # 9", "12 N ELM ST"),
        ("7 FIFTH AVENUE SUITE 200", "7 5TH AVE"),
        ("100 KEY WEST", "100 KEY W"),
    ],
)
def test_the_core_drops_a_trailing_unit_and_takes_usps_forms(line: str, core: str) -> None:
    assert core_of(line) == core


@pytest.mark.parametrize(
    ("core", "accepted"),
    [
        ("1175 RIDGE", True),  # usaddress labels RIDGE a street type
        ("80 SPRING", True),  # ... and SPRING a landmark
        ("60 8TH", True),
        ("W123S4567 MAIN ST", True),
        ("RR 2 BOX 15", True),
        ("PSC 1234 BOX 5678", True),
        ("5TH AVE", False),  # an ordinal is a street, never a house number
        ("12345 IL", False),
        ("12 CO RD 5", True),
        ("0 MAIN ST", False),
        ("PO BOX 0", False),
        ("CALLE LUNA 123", False),
        ("ZIP 92409", False),
    ],
)
def test_the_structure_test(core: str, accepted: bool) -> None:
    assert usaddress_accepts(core) is accepted


def test_deliverable_streets_keeps_order_and_judges_blank_and_null_false() -> None:
    streets = pl.Series(["12 Elm St", None, "  ", "Unknown", "12 Elm St", "1175 Ridge"], dtype=pl.Utf8)
    assert deliverable_streets(streets).to_list() == [True, False, False, False, True, True]


def test_many_cores_are_parsed_in_worker_processes_with_the_same_verdicts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cores = ["1175 RIDGE", "12345 IL", "80 SPRING", "PO BOX 0", "123 PEÑA WAY"] * 3
    serial = parse_all(cores)
    monkeypatch.setattr(addresses, "PARALLEL_FROM", 1)
    monkeypatch.setattr(addresses.os, "cpu_count", lambda: 2)
    assert parse_all(cores) == serial == [True, False, True, False, True] * 3


def test_a_failing_worker_is_an_error_not_a_verdict(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(structure, "__file__", str(tmp_path / "absent.py"))
    with pytest.raises(RuntimeError, match="worker failed"):
        addresses._run_worker(["1 MAIN ST"])


def test_the_worker_writes_one_verdict_per_core() -> None:
    sink = io.StringIO()
    structure.main(io.StringIO("1175 RIDGE\n12345 IL\n"), sink)
    assert sink.getvalue() == "10"


def test_a_name_made_only_of_street_types_is_left_to_usaddress() -> None:
    # found by the property test above: usaddress refuses "1 CT CT"
    assert not fast("1 CRT CRT")
    assert fast("1 CORAL CT")
