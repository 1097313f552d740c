"""The decision rule on Python values (small groups) equals the frame rule it stands in for."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from custodes.config import LinkageConfig
from custodes.link import decide
from custodes.link.comparisons import ALL_LEVELS
from custodes.link.decide import (
    SMALL_SCORED,
    _decide_frame,
    _decide_values,
    decide_outcomes,
    decide_rows,
    score_candidates,
)
from custodes.link.model import M_PROBABILITIES, LevelTable

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


# -- the score and the rule together on candidate rows (the online path's few rows) ------
M = {name: list(values) for name, values in M_PROBABILITIES.items()}
LEVEL_COUNTS = {name: len(levels) for name, levels in ALL_LEVELS.items()}
LEVELS_SCHEMA = {
    "rid": pl.Int64,
    "tin": pl.Utf8,
    **{f"c_{name}": pl.Int32 for name in ALL_LEVELS},
    "r_suffix": pl.Utf8,
    "m_first_tok": pl.Utf8,
    "m_last_concat": pl.Utf8,
    "m_birth_year": pl.Int32,
    "m_suffix": pl.Utf8,
    "m_addr_key": pl.Utf8,
    "m_middle_init": pl.Utf8,
    "tf_first": pl.Float64,
    "tf_last": pl.Float64,
    "tf_addr": pl.Float64,
}
TERM_FREQUENCY = st.one_of(st.none(), st.floats(1e-9, 1.0), st.sampled_from([1e-7, 0.01, 1.0]))
SUFFIX = st.sampled_from([None, None, "JR", "SR", "II", "III", "2ND"])
CANDIDATE = st.fixed_dictionaries(
    {
        "rid": st.integers(0, 4),
        "tin": st.sampled_from([f"00000000{i}" for i in range(10)]),
        **{f"c_{name}": st.integers(0, count - 1) for name, count in LEVEL_COUNTS.items()},
        "r_suffix": SUFFIX,
        # few values, so that names, homes and birth years recur (twins, Jr/Sr, households)
        "m_first_tok": st.sampled_from(["JUAN", "ANA", None]),
        "m_last_concat": st.sampled_from(["GARCIA", None]),
        "m_birth_year": st.sampled_from([1940, 1950, 1965, 1966, 1990, None]),
        "m_suffix": SUFFIX,
        "m_addr_key": st.sampled_from(["A1", "B2", None]),
        "m_middle_init": st.sampled_from(["Q", None]),
        "tf_first": TERM_FREQUENCY,
        "tf_last": TERM_FREQUENCY,
        "tf_addr": TERM_FREQUENCY,
    }
)
U = st.fixed_dictionaries(
    {
        name: st.lists(st.floats(1e-6, 0.9), min_size=count, max_size=count)
        for name, count in LEVEL_COUNTS.items()
    }
)


def _unique_pairs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({(r["rid"], r["tin"]): r for r in rows}.values())


def _decided_by_frames(
    rows: list[dict[str, Any]], rids: pl.Series, u: LevelTable, taxpayers: int
) -> pl.DataFrame:
    levels = pl.DataFrame(rows, schema=LEVELS_SCHEMA, orient="row")
    scored = score_candidates(levels, M, u, taxpayers=taxpayers, prior=CONFIG.prior_on_file)
    return _decide_frame(scored, rids, CONFIG)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(CANDIDATE, max_size=40).map(_unique_pairs),
    u=U,
    taxpayers=st.integers(0, 10_000_000),
    extra=st.lists(st.integers(0, 9), max_size=4),
)
def test_candidate_rows_are_scored_and_decided_as_the_frames_are(
    rows: list[dict[str, Any]], u: LevelTable, taxpayers: int, extra: list[int]
) -> None:
    u = {name: [1.0, *values[1:]] for name, values in u.items()}
    rids = pl.Series("rid", list(dict.fromkeys([*(r["rid"] for r in rows), *extra])), dtype=pl.Int64)
    got = decide_rows(rows, rids, M, u, taxpayers=taxpayers, prior=CONFIG.prior_on_file, config=CONFIG)
    assert got is not None
    assert_frame_equal(got, _decided_by_frames(rows, rids, u, taxpayers), check_exact=True)


def test_the_generation_penalty_on_values_is_the_frame_penalty() -> None:
    # JUAN GARCIA Sr (1950) and Jr (1990) at one address, a 1966 namesake elsewhere and a
    # 1991 JUAN GARCIA III of no known address (III names no generation the ages can tell)
    def person(tin: str, year: int | None, home: str | None, suffix: str | None = None) -> dict[str, Any]:
        return {"tin": tin, "m_first_tok": "JUAN", "m_last_concat": "GARCIA", "m_birth_year": year,
                "m_addr_key": home, "m_suffix": suffix}  # fmt: skip

    people = [person("1", 1950, "A1"), person("2", 1990, "A1"), person("3", 1966, "B2"),
              person("4", None, "A1"), person("5", 1991, None, "III")]  # fmt: skip
    for r_suffix, ruled_out in (("JR", {"1", "5"}), ("SR", {"2", "5"}), ("III", set())):
        rows = [{"rid": 0, "r_suffix": r_suffix, **p} for p in people]
        conflicts = decide._generation_conflicts(rows)
        assert {p["tin"] for p, c in zip(people, conflicts, strict=True) if c} == ruled_out
        frame = pl.DataFrame(rows, schema={k: LEVELS_SCHEMA[k] for k in rows[0]}, orient="row")
        pen = frame.select(decide._generation_penalty().alias("pen"))["pen"].to_list()
        assert [p > 0 for p in pen] == conflicts


def test_candidate_rows_the_values_cannot_decide_alike_go_to_the_frames() -> None:
    row = {**{f"c_{name}": count - 1 for name, count in LEVEL_COUNTS.items()}, "rid": 0, "tin": "000000001",
           "r_suffix": None, "m_first_tok": "ANA", "m_last_concat": "GARCIA", "m_birth_year": 1980,
           "m_suffix": None, "m_addr_key": "A1", "m_middle_init": None, "tf_first": None, "tf_last": 0.01,
           "tf_addr": None}  # fmt: skip
    u = {name: [1.0, *[0.01] * (count - 1)] for name, count in LEVEL_COUNTS.items()}
    rids = pl.Series("rid", [0, 1], dtype=pl.Int64)

    def on_values(rows: list[dict[str, Any]]) -> pl.DataFrame | None:
        return decide_rows(rows, rids, M, u, taxpayers=1000, prior=CONFIG.prior_on_file, config=CONFIG)

    decided = on_values([row])
    assert decided is not None
    assert decided["outcome"].to_list() == ["match", "no_match"]
    assert_frame_equal(decided, _decided_by_frames([row], rids, u, 1000), check_exact=True)
    assert on_values([{**row, "c_dob": None}]) is None  # a missing level: three-valued evidence
    assert on_values([row, {**row, "c_dob": 1}]) is None  # one TIN twice: the frames' order is open
    assert on_values([{**row, "tin": None}]) is None
    with np.errstate(divide="ignore"):  # a zero term frequency (no index holds one): an infinite weight
        assert on_values([{**row, "tf_last": 0.0}]) is None


# -- the batch linker's scorer: levels streamed in batches, in any order ------------------
def _with_request_suffix(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every pair of a request carries the request's suffix (``r.suffix`` in the levels SQL)."""
    suffix: dict[object, object] = {}
    for r in rows:
        suffix.setdefault(r["rid"], r["r_suffix"])
    return [{**r, "r_suffix": suffix[r["rid"]]} for r in rows]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(CANDIDATE, max_size=40).map(_unique_pairs).map(_with_request_suffix),
    u=U,
    taxpayers=st.integers(1, 10_000_000),
    cuts=st.lists(st.integers(0, 40), max_size=5),
    seed=st.randoms(),
)
def test_levels_scored_in_batches_are_scored_as_the_whole_frame(
    rows: list[dict[str, Any]], u: LevelTable, taxpayers: int, cuts: list[int], seed: Any
) -> None:
    u = {name: [1.0, *values[1:]] for name, values in u.items()}
    whole = pl.DataFrame(rows, schema=LEVELS_SCHEMA, orient="row")
    expected = score_candidates(
        whole, M, u, taxpayers=taxpayers, prior=CONFIG.prior_on_file, columns=decide.DECIDE_COLUMNS
    )
    # the same pairs in another order, cut anywhere (a request's pairs in several batches)
    shuffled = list(rows)
    seed.shuffle(shuffled)
    frame = pl.DataFrame(shuffled, schema=LEVELS_SCHEMA, orient="row")
    bounds = sorted({0, len(shuffled), *(c for c in cuts if c <= len(shuffled))})
    suffixed = whole.filter(pl.col("r_suffix").is_not_null())["rid"].unique()
    scorer = decide.CandidateScorer(M, u, suffixed=suffixed, columns=decide.DECIDE_COLUMNS)
    for start, end in zip(bounds, bounds[1:] or [0], strict=False):
        scorer.add(frame.slice(start, end - start))
    if len(bounds) == 1:
        scorer.add(frame)  # no pairs: one empty batch, as the linker always hands one
    assert scorer.rows == len(rows)
    got = scorer.scored(taxpayers=taxpayers, prior=CONFIG.prior_on_file)
    assert got.columns == [*decide.DECIDE_COLUMNS, "w", "eligible", "p"]
    assert_frame_equal(got, expected, check_exact=True)
    # and the rule decides them alike, whole or narrow
    rids = pl.Series("rid", sorted({r["rid"] for r in rows}), dtype=pl.Int64)
    full = score_candidates(whole, M, u, taxpayers=taxpayers, prior=CONFIG.prior_on_file)
    assert_frame_equal(_decide_frame(got, rids, CONFIG), _decide_frame(full, rids, CONFIG))


def test_a_scorer_given_nothing_refuses_to_score() -> None:
    scorer = decide.CandidateScorer(
        M, {n: [1.0] * c for n, c in LEVEL_COUNTS.items()}, suffixed=pl.Series([])
    )
    with pytest.raises(ValueError, match="no candidate levels"):
        scorer.scored(taxpayers=10, prior=CONFIG.prior_on_file)
