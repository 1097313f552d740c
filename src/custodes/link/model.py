"""The Fellegi-Sunter model: u from random pairs, m by EM, and the weights they give.

- **u** (how often two unrelated taxpayers agree at each level) is measured at master
  load on a deterministic random sample of taxpayer pairs, with add-one smoothing so no
  level is treated as impossible among strangers.
- **m** (how often a request and its true taxpayer agree at each level) is estimated by
  expectation-maximisation over the batch's candidate pairs, with u held fixed, starting
  from ``DEFAULT_M``. Level 0 ("missing") carries no evidence and is left out.
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


def estimate_u(persons: pl.DataFrame, addresses: pl.DataFrame, *, seed: int = 0) -> pl.DataFrame:
    """u-probabilities per comparison level, from random pairs of distinct taxpayers."""
    rng = np.random.default_rng(seed)
    n = persons.height
    size = min(U_SAMPLE_PAIRS, max(n * (n - 1) // 2, 1))
    left = rng.integers(0, n, size)
    right = rng.integers(0, n, size)
    keep = left != right
    indexed = persons.with_row_index("rid").with_columns(pl.col("rid").cast(pl.Int64))
    pairs = pl.DataFrame({"rid": left[keep], "j": right[keep]}).join(
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


def estimate_m(
    levels: pl.DataFrame, u: LevelTable, *, iterations: int = 25, min_pairs: int = 2000
) -> tuple[LevelTable, float]:
    """m-probabilities and the match share by EM over candidate pairs' level patterns.

    With fewer than ``min_pairs`` pairs EM is not trusted and the defaults are returned.
    """
    m: LevelTable = {k: list(v) for k, v in DEFAULT_M.items()}
    names = list(ALL_LEVELS)
    if levels.height < min_pairs:
        return m, 0.1
    patterns = levels.group_by([f"c_{n}" for n in names]).len("n")
    codes = {name: patterns.get_column(f"c_{name}").to_numpy() for name in names}
    counts = patterns.get_column("n").to_numpy().astype(np.float64)
    lam = 0.1
    for _ in range(iterations):
        log_m = np.log(lam) + sum(np.log(np.asarray(m[k]))[codes[k]] for k in names)
        log_u = np.log(1 - lam) + sum(np.log(np.asarray(u[k]))[codes[k]] for k in names)
        g = 1.0 / (1.0 + np.exp(np.clip(log_u - log_m, -700, 700)))
        weighted = counts * g
        lam = float(np.clip(weighted.sum() / counts.sum(), 1e-6, 1 - 1e-6))
        for k in names:
            size = len(ALL_LEVELS[k])
            sums = np.bincount(codes[k], weights=weighted, minlength=size)
            observed = sums[1:].sum()
            if observed <= 0:
                continue
            # add-one smoothing keeps every level possible for a true match
            probs = (sums[1:] + 1.0) / (observed + size - 1)
            m[k] = [1.0, *probs.tolist()]
    return m, lam


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
