"""The decision rule on Python values (small groups) equals the frame rule it stands in for."""

from __future__ import annotations

import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from custodes.config import LinkageConfig
from custodes.link import decide
from custodes.link.decide import SMALL_SCORED, _decide_frame, _decide_values, decide_outcomes

CONFIG = LinkageConfig()
WEIGHT = st.one_of(
    st.floats(-40, 40, allow_nan=False),
    st.sampled_from([CONFIG.margin, -CONFIG.margin, 0.0, math.nan, math.inf, -math.inf]),
)
PROBABILITY = st.one_of(
    st.none(),
    st.floats(0, 1),
    st.sampled_from([CONFIG.match_threshold, CONFIG.plausible_threshold, math.nan]),
)
ROW = st.fixed_dictionaries(
    {
        "rid": st.integers(0, 6),
        "w": WEIGHT,
        "p": PROBABILITY,
        "eligible": st.sampled_from([True, False, None]),
        "tin": st.sampled_from(["000000001", "000000002", "123456789"]),
        "c_address": st.one_of(st.none(), st.integers(0, 5)),
    }
)


def _scored(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {"rid": pl.Int64, "w": pl.Float64, "p": pl.Float64, "eligible": pl.Boolean,
              "tin": pl.Utf8, "c_address": pl.Int32}  # fmt: skip
    # score_candidates hands rows grouped by request, the best first
    ordered = sorted(rows, key=lambda r: r["rid"])  # type: ignore[arg-type,return-value]
    return pl.DataFrame(ordered, schema=schema, orient="row")


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(ROW, max_size=40), extra=st.lists(st.integers(0, 9), max_size=6), seed=st.randoms())
def test_values_decide_as_the_frames_do(
    rows: list[dict[str, object]], extra: list[int], seed: object
) -> None:
    scored = _scored(rows)
    wanted = list(dict.fromkeys([*(r["rid"] for r in rows), *extra]))  # some without candidates
    seed.shuffle(wanted)  # type: ignore[attr-defined]
    rids = pl.Series("rid", wanted, dtype=pl.Int64)
    assert_frame_equal(_decide_values(scored, rids, CONFIG), _decide_frame(scored, rids, CONFIG))


def test_the_values_path_is_taken_only_for_small_inputs(monkeypatch: object) -> None:
    calls: list[str] = []
    monkeypatch.setattr(decide, "_decide_values", lambda *a: calls.append("values") or _decide_values(*a))  # type: ignore[attr-defined]
    monkeypatch.setattr(decide, "_decide_frame", lambda *a: calls.append("frame") or _decide_frame(*a))  # type: ignore[attr-defined]
    row = {"rid": 0, "w": 30.0, "p": 0.9999, "eligible": True, "tin": "000000001", "c_address": 5}
    small = _scored([row])
    decided = decide_outcomes(small, pl.Series("rid", [0, 1], dtype=pl.Int64), CONFIG)
    assert decided["outcome"].to_list() == ["match", "no_match"]
    assert decided["address_status"].to_list() == ["current", None]
    big = _scored([{**row, "rid": i} for i in range(SMALL_SCORED + 1)])
    decide_outcomes(big, big["rid"], CONFIG)
    assert calls == ["values", "frame"]
