"""The Fellegi-Sunter model: u from random pairs, m from anchor pairs, and their weights.

- **u** (how often two unrelated taxpayers agree at each level) is measured at master
  load on a deterministic random sample of taxpayer pairs, with add-one smoothing so no
  level is treated as impossible among strangers.
- **m** (how often a request and its true taxpayer agree at each level) is measured per
  batch on anchor pairs that other fields identify (see ``estimate_m``), falling back to
  ``DEFAULT_M``. Level 0 ("missing") carries no evidence and is left out.
- **Term frequencies** replace u at exact name and address agreement: agreeing on a rare
  surname is stronger evidence than agreeing on GARCIA.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import duckdb
import numpy as np
import polars as pl

from custodes.link.comparisons import ALL_LEVELS
from custodes.link.features import pair_levels_sql
from custodes.link.sql import query_frame

LevelTable = dict[str, list[float]]

DEFAULT_M: Mapping[str, tuple[float, ...]] = {
    "first_name": (1.0, 0.03, 0.01, 0.05, 0.05, 0.86),
    "middle_name": (1.0, 0.05, 0.25, 0.70),
    "last_name": (1.0, 0.03, 0.07, 0.10, 0.80),
    "dob": (1.0, 0.02, 0.03, 0.05, 0.90),
    "tin": (1.0, 0.02, 0.08, 0.90),
    "address": (1.0, 0.10, 0.05, 0.05, 0.15, 0.65),
}
"""Starting m-probabilities for EM (index = level). Level 0 is 'missing': no evidence."""

U_SAMPLE_PAIRS = 300_000


def random_pairs(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positions (left, right) of ``U_SAMPLE_PAIRS`` random pairs of distinct rows among ``n``."""
    rng = np.random.default_rng(seed)
    size = min(U_SAMPLE_PAIRS, max(n * (n - 1) // 2, 1))
    left = rng.integers(0, n, size)
    right = rng.integers(0, n, size)
    keep = left != right
    return left[keep], right[keep]


def estimate_u(persons: pl.DataFrame, addresses: pl.DataFrame, *, seed: int = 0) -> pl.DataFrame:
    """u-probabilities per comparison level, from random pairs of distinct taxpayers."""
    left, right = random_pairs(persons.height, seed=seed)
    indexed = persons.with_row_index("rid").with_columns(pl.col("rid").cast(pl.Int64))
    pairs = pl.DataFrame({"rid": left, "j": right}).join(
        indexed.select(pl.col("rid").alias("j"), "tin"), on="j"
    )
    con = duckdb.connect()
    try:
        con.register("pairs", pairs.to_arrow())
        con.register("req", indexed.to_arrow())
        con.register("persons", persons.to_arrow())
        con.register("addresses", addresses.to_arrow())
        levels = query_frame(con, pair_levels_sql("pairs", "req", "persons", "addresses"))
    finally:
        con.close()
    return u_from_levels(levels)


def u_from_levels(levels: pl.DataFrame) -> pl.DataFrame:
    """u per comparison level from the levels of random pairs (add-one smoothing)."""
    rows = []
    for name, names in ALL_LEVELS.items():
        counts = levels.get_column(f"c_{name}").value_counts()
        by_level = dict(zip(counts[f"c_{name}"].to_list(), counts["count"].to_list(), strict=True))
        observed = sum(by_level.get(lv, 0) for lv in range(1, len(names)))
        for lv in range(len(names)):
            u = 1.0 if lv == 0 else (by_level.get(lv, 0) + 1) / (observed + len(names) - 1)
            rows.append({"comparison": name, "level": lv, "u": u})
    return pl.DataFrame(rows)


def u_table(frame: pl.DataFrame) -> LevelTable:
    """The u frame stored in the index, as {comparison: [u per level]}."""
    out: LevelTable = {name: [1.0] * len(levels) for name, levels in ALL_LEVELS.items()}
    for row in frame.iter_rows(named=True):
        out[row["comparison"]][row["level"]] = row["u"]
    return out


ANCHORS: Mapping[str, str] = {
    "first_name": "c_tin = 3 OR (c_dob = 4 AND c_last_name = 4 AND c_address >= 4)",
    "middle_name": "c_tin = 3 OR (c_dob = 4 AND c_first_name = 5 AND c_last_name = 4)",
    "last_name": "c_tin = 3 OR (c_dob = 4 AND c_first_name = 5 AND c_address >= 4)",
    "dob": "c_tin = 3 OR (c_first_name = 5 AND c_last_name = 4 AND c_address >= 4 AND c_middle_name = 3)",
    "tin": "c_dob = 4 AND c_first_name = 5 AND c_last_name = 4",
    "address": "c_tin = 3 OR (c_dob = 4 AND c_first_name = 5 AND c_last_name = 4)",
}
"""For each comparison, pairs that other fields alone make near-certain matches."""

MIN_ANCHORS = 200
PRIOR_PAIRS = 50.0


def estimate_m(levels: pl.DataFrame) -> tuple[LevelTable, dict[str, int]]:
    """m-probabilities measured on anchor pairs; returns m and the anchor count per comparison.

    EM over blocked pairs was tried first and measured unreliable here: the candidate
    pairs are dominated by relatives and neighbours, and EM converged on "same household"
    as its match class. Instead, the m of each comparison is measured on the pairs that
    *other* fields alone identify (``ANCHORS``: an exact TIN, or exact name, dob and
    address), keeping only requests with exactly one such pair. With fewer than
    ``MIN_ANCHORS`` anchors a comparison keeps ``DEFAULT_M``.
    """
    m: LevelTable = {k: list(v) for k, v in DEFAULT_M.items()}
    used: dict[str, int] = {}
    for name, rule in ANCHORS.items():
        anchored = levels.filter(pl.sql_expr(rule)).filter(pl.len().over("rid") == 1)
        used[name] = anchored.height
        if anchored.height < MIN_ANCHORS:
            continue
        size = len(ALL_LEVELS[name])
        counts = np.bincount(anchored.get_column(f"c_{name}").to_numpy(), minlength=size)
        observed = counts[1:].sum()
        if observed < MIN_ANCHORS:
            continue
        # the defaults act as PRIOR_PAIRS pseudo-observations: no level becomes impossible
        # for a true match just because this batch happened to be clean
        prior = np.asarray(DEFAULT_M[name][1:]) / sum(DEFAULT_M[name][1:])
        probs = (counts[1:] + PRIOR_PAIRS * prior) / (observed + PRIOR_PAIRS)
        m[name] = [1.0, *probs.tolist()]
    return m, used


def level_weights(m: LevelTable, u: LevelTable) -> dict[str, list[float]]:
    """log2 Bayes factor of each level, log2(m / u), made monotone in the level.

    Level 0 ('missing') weighs 0. A closer agreement never weighs less than a looser one:
    sampling noise in u must not make a misspelling stronger evidence than equality.
    """
    out: dict[str, list[float]] = {}
    for k in m:
        raw = [0.0 if lv == 0 else math.log2(m[k][lv] / u[k][lv]) for lv in range(len(m[k]))]
        for lv in range(len(raw) - 2, 0, -1):
            raw[lv] = min(raw[lv], raw[lv + 1])
        out[k] = raw
    return out
