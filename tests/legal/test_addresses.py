"""The regular-expression fast path accepts nothing the usaddress parse would refuse."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.legal.addresses import fast_path_accepts, normalise_street, usaddress_accepts

WORDS = ["MAIN", "OAK", "ELM", "PARK", "HILL", "N", "E", "SW", "ST", "AVE", "RD", "DR", "LN", "CT", "BLVD",
         "APT", "UNIT", "#", "9TH", "1ST", "BOX", "PO", "DE", "LA", "UNKNOWN", "GENERAL", "DELIVERY", "BEACH", "RIDGE"]  # fmt: skip

lines = st.builds(
    lambda number, words: " ".join([str(number), *words]),
    st.integers(min_value=0, max_value=999_999),
    st.lists(
        st.one_of(
            st.sampled_from(WORDS),
            st.from_regex(r"[A-Z]{1,8}", fullmatch=True),
            st.from_regex(r"[0-9]{1,4}", fullmatch=True),
        ),
        min_size=0,
        max_size=5,
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(lines, st.text(max_size=30)))
def test_fast_path_never_accepts_what_usaddress_refuses(raw: str) -> None:
    line = pl.DataFrame({"s": [raw]}).select(normalise_street(pl.col("s"))).item()
    fast = pl.DataFrame({"s": [line]}).select(fast_path_accepts(pl.col("s"))).item()
    if fast:
        assert usaddress_accepts(line), line
