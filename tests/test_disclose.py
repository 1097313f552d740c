"""Response shaping: the agency learns only what the profile permits."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from custodes import disclose
from custodes.disclose import (
    ADDRESS_OF_RECORD,
    ENCODE_MIN_ROWS,
    VERIFY_ONLY,
    response_digests,
    response_frame,
    response_of_frame,
)

DECISIONS = pl.DataFrame(
    {
        "request_id": ["R1", "R2", "R3", "R4"],
        "outcome": ["match", "ambiguous", "no_match", "refused"],
        "reason": ["matched", "several_candidates", "below_threshold", "placeholder_address"],
        "tin": ["123456789", None, None, None],
        "match_probability": [0.999, 0.5, 0.1, None],
        "address_status": ["previous", None, None, None],
    }
)
ADDRESSES = pl.DataFrame(
    {"tin": ["123456789", "987654321"], "street": ["12 Elm St", "9 Oak Ave"], "city": ["Peoria", "X"],
     "state": ["IL", "IL"], "zip": ["61602", "60000"]}
)  # fmt: skip


def test_verify_only_says_match_status_and_refusal_reasons_only() -> None:
    out = response_frame(DECISIONS, VERIFY_ONLY)
    assert out.columns == ["request_id", "outcome", "reason", "address_status"]
    assert out.rows() == [
        ("R1", "match", None, "previous"),
        ("R2", "no_match", None, None),
        ("R3", "no_match", None, None),
        ("R4", "refused", "placeholder_address", None),
    ]


def test_address_of_record_adds_the_address_for_matches_only() -> None:
    out = response_frame(DECISIONS, ADDRESS_OF_RECORD, ADDRESSES)
    assert out.columns == [
        "request_id",
        "outcome",
        "reason",
        "address_status",
        "street",
        "city",
        "state",
        "zip",
    ]
    assert out.row(0) == ("R1", "match", None, "previous", "12 Elm St", "Peoria", "IL", "61602")
    assert all(row[4] is None for row in out.rows()[1:])
    assert "9 Oak Ave" not in out.get_column("street").to_list()


def test_nothing_identifying_or_model_internal_ever_leaves() -> None:
    for out in (
        response_frame(DECISIONS, VERIFY_ONLY),
        response_frame(DECISIONS, ADDRESS_OF_RECORD, ADDRESSES),
    ):
        assert not {"tin", "match_probability"} & set(out.columns)


def test_address_of_record_without_addresses_and_unknown_profiles_are_bugs() -> None:
    with pytest.raises(ValueError, match="addresses of record"):
        response_frame(DECISIONS, ADDRESS_OF_RECORD)
    with pytest.raises(ValueError, match="unknown disclosure profile"):
        response_frame(DECISIONS, "everything")


def test_each_response_row_has_a_stable_digest_of_what_was_disclosed() -> None:
    out = response_frame(DECISIONS, VERIFY_ONLY)
    first, again = response_digests(out), response_digests(out)
    assert first.to_list() == again.to_list()
    assert len(set(first.to_list())) == 4
    assert all(len(d) == 64 for d in first.to_list())


_TEXT = st.none() | st.sampled_from(["match", "ambiguous", "no_match", "refused", "matched", "x", ""])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "request_id": st.text(max_size=5),
                "outcome": _TEXT,
                "reason": _TEXT,
                "tin": st.none() | st.just("123456789"),
                "match_probability": st.none() | st.floats(allow_nan=True),
                "address_status": st.none() | st.sampled_from(["current", "previous", "not_on_file"]),
            }
        ),
        max_size=6,
    )
)
def test_a_small_verify_only_response_is_shaped_as_the_frame_operations_shape_it(
    rows: list[dict[str, object]],
) -> None:
    decisions = pl.DataFrame(rows, schema=DECISIONS.schema)
    assert_frame_equal(response_frame(decisions, VERIFY_ONLY), response_of_frame(decisions, VERIFY_ONLY))


def test_the_value_path_leaves_frames_it_cannot_read_to_the_frame_operations() -> None:
    as_categorical = DECISIONS.with_columns(pl.col("outcome").cast(pl.Categorical))
    assert_frame_equal(
        response_frame(as_categorical, VERIFY_ONLY), response_of_frame(as_categorical, VERIFY_ONLY)
    )
    big = pl.concat([DECISIONS] * 20)
    assert big.height > disclose.SMALL_ROWS
    assert_frame_equal(response_frame(big, VERIFY_ONLY), response_of_frame(big, VERIFY_ONLY))
    assert response_frame(DECISIONS, VERIFY_ONLY).rows() == response_of_frame(DECISIONS, VERIFY_ONLY).rows()


def _python_digests(response: pl.DataFrame) -> list[str]:
    """The definition: SHA-256 of each row's canonical JSON, row by row."""
    return [
        hashlib.sha256(
            json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
        for row in response.to_dicts()
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.none() | st.text(), st.none() | st.text(), st.none() | st.text(max_size=3)),
        min_size=ENCODE_MIN_ROWS,
        max_size=ENCODE_MIN_ROWS + 40,
    )
)
def test_a_long_response_is_digested_as_row_by_row_json_would_be(rows: list[tuple[str | None, ...]]) -> None:
    # any text: quotes, backslashes, control characters, non-ASCII, astral characters
    response = pl.DataFrame(
        rows, schema={"request_id": pl.String, "reason": pl.String, "outcome": pl.String}, orient="row"
    )
    assert response_digests(response).to_list() == _python_digests(response)
    assert response_digests(response.head(3)).to_list() == _python_digests(response.head(3))
