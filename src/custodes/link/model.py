"""The Fellegi-Sunter model: u from random pairs, fixed m, and their weights.

- **u** (how often two unrelated taxpayers agree at each level) is measured at master
  load on a deterministic random sample of taxpayer pairs, with add-one smoothing so no
  level is treated as impossible among strangers.
- **m** (how often a request and its true taxpayer agree at each level) is the fixed
  ``M_PROBABILITIES``, written into the index at master load beside u. A subject's decision
  therefore depends only on the subject and the master file, never on what else is in the
  batch, and one request alone (the online path) is scored exactly as in a batch.
  Level 0 ("missing") carries no evidence.
- **Term frequencies** replace u at exact name and address agreement: agreeing on a rare
  surname is stronger evidence than agreeing on GARCIA.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from custodes.errors import StoreError
from custodes.link.comparisons import ALL_LEVELS
from custodes.link.sql import query_frame, table_names

LevelTable = dict[str, list[float]]

M_PROBABILITIES: Mapping[str, tuple[float, ...]] = {
    "first_name": (1.0, 0.02, 0.002, 0.002, 0.02, 0.06, 0.896),
    "middle_name": (1.0, 0.02, 0.49, 0.49),
    "last_name": (1.0, 0.01, 0.025, 0.045, 0.92),
    "dob": (1.0, 0.002, 0.002, 0.012, 0.984),
    "tin": (1.0, 0.005, 0.03, 0.965),
    "address": (1.0, 0.03, 0.06, 0.004, 0.104, 0.802),
}
"""m-probabilities (index = level; level 0 is 'missing': no evidence).

Calibrated on anchor pairs (pairs that other fields alone identify: an exact TIN, or exact
name, dob and address; one per request) in ``custodes synth`` batches of seeds 1, 2 and 3
(50,000 persons, 5,000 requests), whose measurements agreed to within 0.01 on every level;
the rarest levels are floored at 0.002 so that no level is near-impossible for a true
match. docs/linkage.md gives the measurements and the effect on quality."""

U_SAMPLE_PAIRS = 300_000


def random_pairs(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positions (left, right) of ``U_SAMPLE_PAIRS`` random pairs of distinct rows among ``n``."""
    rng = np.random.default_rng(seed)
    size = min(U_SAMPLE_PAIRS, max(n * (n - 1) // 2, 1))
    left = rng.integers(0, n, size)
    right = rng.integers(0, n, size)
    keep = left != right
    return left[keep], right[keep]


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


def level_table(frame: pl.DataFrame, column: str) -> LevelTable:
    """A (comparison, level, ``column``) frame stored in the index, as {comparison: [per level]}."""
    out: LevelTable = {name: [1.0] * len(levels) for name, levels in ALL_LEVELS.items()}
    for row in frame.iter_rows(named=True):
        out[row["comparison"]][row["level"]] = row[column]
    return out


def m_frame() -> pl.DataFrame:
    """``M_PROBABILITIES`` as rows (comparison, level, m), as the index stores them."""
    return pl.DataFrame(
        [
            {"comparison": name, "level": level, "m": value}
            for name, values in M_PROBABILITIES.items()
            for level, value in enumerate(values)
        ]
    )


@dataclass(frozen=True)
class ModelParameters:
    """Everything that scores a candidate, read from one matching index."""

    m: LevelTable
    u: LevelTable
    taxpayers: int


def load_parameters(con: duckdb.DuckDBPyConnection) -> ModelParameters:
    """The model parameters stored in an open matching index (``custodes master load``)."""
    tables = table_names(con)
    missing = sorted({"m_probabilities", "u_probabilities", "known_first", "meta"} - tables)
    if missing:
        raise StoreError(
            f"the matching index lacks {', '.join(missing)}: it was built by an older custodes; "
            "run `custodes master load FILE` again"
        )
    return ModelParameters(
        m=level_table(query_frame(con, "SELECT * FROM m_probabilities"), "m"),
        u=level_table(query_frame(con, "SELECT * FROM u_probabilities"), "u"),
        taxpayers=int(query_frame(con, "SELECT taxpayers FROM meta").item()),
    )


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
