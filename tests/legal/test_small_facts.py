"""The subject facts on Python values (small frames) equal the frame operations, their definition."""

from __future__ import annotations

import random
from dataclasses import replace

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

from custodes.legal import subjects
from custodes.legal.addresses import deliverable_streets, deliverable_value
from custodes.legal.subjects import (
    DESCRIPTOR_FIRST_WORDS,
    DESCRIPTOR_LAST,
    SUBJECT_COLUMNS,
    WHITE_SPACE,
    basis_facts,
    check_subjects,
    facts_of_frame,
    facts_of_values,
    reasons_of_values,
    subject_facts,
)
from tests.legal.test_addresses import DIRECTIONALS, NAMES, SUFFIXES, UNITS, address_like, junk
from tests.legal.test_subjects import BASIS, PLACEHOLDER_STREETS, REAL_STREETS, STRICT

BASES = (BASIS, STRICT, replace(BASIS, address_check="not_blank"))


def _same(frame: pl.DataFrame) -> bool:
    """Whether the value path decided ``frame``; asserts it decided as the frame path does,
    both the facts and the reasons under each basis (the plain one, one that needs a case
    reference, and the 2025 ``not_blank`` address check)."""
    small = facts_of_values(frame)
    if small is None:
        assert reasons_of_values(frame, BASIS) is None
        return False
    assert_frame_equal(small, facts_of_frame(frame))
    for basis in BASES:
        by_frame = basis_facts(facts_of_frame(frame), basis).select(
            subjects._reason_rule(basis.requires_case_reference).alias("subject_reason")
        )["subject_reason"]
        by_values = reasons_of_values(frame, basis)
        assert by_values is not None
        assert_series_equal(by_values, by_frame)
        assert_series_equal(check_subjects(frame, basis), by_frame)
    return True


def test_every_synth_slice_has_the_same_facts(tmp_path_factory: pytest.TempPathFactory) -> None:
    from custodes.contract import read_requests
    from custodes.synth import generate

    data = tmp_path_factory.mktemp("synth")
    generate(3000, 1500, 23, data, "csv")
    requests = read_requests(data / "requests.csv")
    decided = sum(_same(requests.slice(i, 32)) for i in range(0, requests.height, 32))
    assert decided >= requests.height // 32 // 2
    assert sum(_same(requests.slice(i, 1)) for i in range(250)) > 200


def test_a_generated_street_corpus_is_judged_the_same() -> None:
    rng = random.Random(20261203)
    real = [n for n in NAMES if len(n) > 2] * 3 + SUFFIXES
    lines = [
        " ".join(
            p
            for p in (
                rng.choice([str(rng.randint(0, 99_999)), "PO BOX", "P.O. Box", "0", "12-B", "1/2"]),
                rng.choice(DIRECTIONALS),
                *rng.sample(real, rng.randint(0, 3)),
                rng.choice([*SUFFIXES, "", "St.", "Str"]),
                rng.choice(["", "N", "SE"]),
                rng.choice([*UNITS, "#", "Apt. 4-C", "Unknown", "General Delivery"]),
            )
            if p
        )
        for _ in range(3_000)
    ]
    lines += PLACEHOLDER_STREETS + REAL_STREETS + ["", " ", "\t12 Elm St", "12 Elm St\x1c", "12\tElm\nSt"]
    expected = deliverable_streets(pl.Series(lines, dtype=pl.Utf8)).to_list()
    assert [deliverable_value(line) for line in lines] == expected
    assert 0.2 < sum(expected) / len(expected) < 0.9  # both verdicts are well represented
    assert deliverable_value("12 Calle Peñón") is None  # not ASCII: left to the frame


_WORDS = st.sampled_from(
    [*DESCRIPTOR_FIRST_WORDS, *DESCRIPTOR_LAST, "UNKNOWN", "N/A", "n.a.", "FNU", "X", "xxx", "Ana", "Reyes",
     "José", "García López", "de la Cruz", "Son", "Lady", "of", "the", "123", "--", "?", "ß", "ǅ", "ﬀ"]
)  # fmt: skip
_GLUE = st.sampled_from([" ", "  ", ".", ",", "-", "/", ";", *WHITE_SPACE, "\x1c", "\x1f", "\u200b", ""])
_NAMES = st.lists(st.tuples(_WORDS, _GLUE), max_size=4).map(lambda parts: "".join(w + g for w, g in parts))
_TINS = st.one_of(
    st.sampled_from(
        ["", "123-45-6789", "000123456", "666-12-3456", "912-70-1234", "999-94-0001", "123-45-0000"]
    ),
    st.text(alphabet=st.sampled_from([*"0123456789-", " ", "\t", "\x1c", "\xa0", "\u2003"]), max_size=12),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "first_name": st.none() | _NAMES | st.text(max_size=10),
                "last_name": st.none() | _NAMES | st.text(max_size=10),
                "street": st.none()
                | address_like
                | junk
                | st.sampled_from(PLACEHOLDER_STREETS + REAL_STREETS),
                "tin": st.none() | _TINS,
                "case_reference": st.none() | st.text(alphabet=st.sampled_from([*WHITE_SPACE, "x", "\x1c"])),
            }
        ),
        min_size=1,
        max_size=4,
    )
)
def test_random_subjects_have_the_same_facts(rows: list[dict[str, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(SUBJECT_COLUMNS, pl.Utf8))
    event("value path" if _same(frame) else "frame path")


def test_subject_facts_takes_the_value_path_only_for_small_text_frames() -> None:
    row = {"first_name": "Ana", "last_name": "Reyes", "street": "12 Elm St", "tin": "", "case_reference": ""}
    one = pl.DataFrame([row], schema=dict.fromkeys(SUBJECT_COLUMNS, pl.Utf8))
    assert facts_of_values(one) is not None
    assert facts_of_values(one.with_columns(pl.lit("12 Calle Peñón").alias("street"))) is None
    assert facts_of_values(one.with_columns(pl.lit(5).alias("tin"))) is None
    assert facts_of_values(one.drop("case_reference")) is not None  # an absent column is blank
    big = pl.concat([one] * (subjects.SMALL_ROWS + 1))
    assert_frame_equal(subject_facts(big), facts_of_frame(big))
    assert_frame_equal(subject_facts(one.drop("tin")), facts_of_frame(one.drop("tin")))


@pytest.mark.parametrize("letter", ["\U00013460", "\U0001e5d0"])  # Unicode 16: Egyptian, Ol Onal
def test_a_letter_newer_than_pythons_unicode_tables_is_decided_the_frame_way(letter: str) -> None:
    """Regression (hypothesis, 2026-12-07): polars' \\p{L} knows letters that Python 3.11's
    Unicode 14 tables do not (U+13460, an Egyptian hieroglyph of Unicode 16), so a surname of
    one was a name on the frame path and none on the value path."""
    row = {"first_name": "Ana", "last_name": letter, "street": None, "tin": None, "case_reference": None}
    one = pl.DataFrame([row], schema=dict.fromkeys(SUBJECT_COLUMNS, pl.Utf8))
    assert facts_of_values(one) is None
    assert_frame_equal(subject_facts(one), facts_of_frame(one))
    # the example hypothesis found: a non-ASCII street elsewhere sends a batch the frame way,
    # and each row alone (the Cedar layer) must say the same
    rows = [row, {**row, "last_name": "Reyes", "street": "\x80"}]
    together = subjects.check_subjects(
        pl.DataFrame(rows, schema=dict.fromkeys(SUBJECT_COLUMNS, pl.Utf8)), BASIS
    )
    assert together.to_list() == [
        (r.value if (r := subjects.check_subject(x, BASIS)) else None) for x in rows
    ]
