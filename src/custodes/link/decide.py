"""The precision-first decision: match, ambiguous or no_match, from scored candidates.

For each request, every candidate taxpayer gets a log2 Bayes factor ``w`` (the sum of its
level weights, term-frequency adjusted). Assuming a request names at most one taxpayer,
who is on file with prior probability ``q`` and is then equally likely to be any of the N
taxpayers, the posterior that candidate i is the one meant is

    p_i = (q/N) 2^w_i / ((1 - q) + (q/N) sum_j 2^w_j)

so two candidates the evidence cannot separate (twins, Jr/Sr without a dob) share the
posterior and neither reaches the threshold. A ``match`` needs all of:

- ``p_best >= match_threshold``;
- a lead of ``margin`` bits over the runner-up;
- personal evidence: a compatible first name, no contradicting dob, a compatible surname,
  and something that ties the name to this person (a dob, a TIN or an address that
  agrees). Address and surname alone are shared by a household, and a name alone is shared
  by namesakes: neither identifies a person. An exact TIN identifies when the first name,
  the surname or the dob agrees with it. The exact given name and dob identify at the
  candidate's address even when the surname is missing or changed. At an address the
  request shares with the candidate, a similar *known* first name (Mary for Mark) needs the
  TIN as well: it cannot tell the person from a co-resident or a twin not on file; a
  misspelling into no known name (Msry) can. A contradicting middle name there needs a
  dob or the TIN.

Two or more candidates with ``p >= plausible_threshold`` give ``ambiguous``; otherwise
``no_match``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from polars._typing import PolarsDataType

from custodes.codes import AddressStatus, Outcome, Reason
from custodes.config import LinkageConfig
from custodes.frames import frame_of
from custodes.link.model import LevelTable, level_weights

GENERATION_GAP_YEARS = 15
"""Two same-named people this far apart in age are taken to be parent and child."""
JUNIOR_SUFFIXES = ("JR", "II", "2ND")
SENIOR_SUFFIXES = ("SR",)
SUFFIX_CONFLICT_BITS = 12.0
"""Penalty when a generational suffix says the request means the other relative."""


TF_COMPARISONS = (("first_name", "tf_first"), ("last_name", "tf_last"), ("address", "tf_addr"))
"""Comparisons whose top level is weighted by how common the agreeing value is."""


def candidate_weights(levels: pl.DataFrame, weights: dict[str, list[float]], m: LevelTable) -> np.ndarray:
    """The summed log2 Bayes factor of every candidate pair (numpy: one gather per comparison)."""
    return _summed_weights(
        lambda name: levels.get_column(f"c_{name}").to_numpy(),
        lambda column: levels.get_column(column).fill_null(np.nan).to_numpy(),
        levels.height,
        weights,
        m,
    )


def _summed_weights(
    level_of: Callable[[str], np.ndarray],
    tf_of: Callable[[str], np.ndarray],
    rows: int,
    weights: dict[str, list[float]],
    m: LevelTable,
) -> np.ndarray:
    """``candidate_weights`` over arrays: the levels of each comparison, each term frequency (NaN: null)."""
    total = np.zeros(rows)
    tf_columns = dict(TF_COMPARISONS)
    for name, per_level in weights.items():
        level = level_of(name)
        plain = np.asarray(per_level)[level]
        if name not in tf_columns:
            total += plain
            continue
        # at exact agreement u is the share of taxpayers holding that very value; a
        # partial level may never outweigh exact agreement on the same candidate's value
        # by more than the m-ratio says (a misspelt ANNA is as likely as HANNA's twin)
        top = len(per_level) - 1
        tf = tf_of(tf_columns[name])
        top_w = np.where(
            np.isnan(tf), per_level[top], math.log2(m[name][top]) - np.log2(np.where(np.isnan(tf), 1.0, tf))
        )
        gap = np.asarray([math.log2(m[name][top] / m[name][lv]) if lv else 0.0 for lv in range(top + 1)])
        capped = np.minimum(plain, top_w - gap[level])
        total += np.where(level == top, top_w, np.where(level >= 2, capped, plain))
    return total


def _generation_penalty() -> pl.Expr:
    """Penalty for the relative a generational suffix rules out (Jr/Sr at one address)."""
    same_name = pl.col("m_first_tok").is_not_null() & pl.col("m_last_concat").is_not_null()
    # the generations are those at one address when the name recurs there (three generations
    # of JUAN GARCIA at one address leave the middle one ambiguous), else among all candidates
    window = ["rid", "m_first_tok", "m_last_concat"]
    household = [*window, "m_addr_key"]
    at_home = pl.len().over(household) > 1
    year = pl.col("m_birth_year")
    oldest = pl.when(at_home).then(year.min().over(household)).otherwise(year.min().over(window))
    youngest = pl.when(at_home).then(year.max().over(household)).otherwise(year.max().over(window))
    gap = (youngest - oldest) >= GENERATION_GAP_YEARS
    is_senior = same_name & gap & (pl.col("m_birth_year") == oldest)
    is_junior = same_name & gap & (pl.col("m_birth_year") == youngest)
    r_junior = pl.col("r_suffix").is_in(JUNIOR_SUFFIXES)
    r_senior = pl.col("r_suffix").is_in(SENIOR_SUFFIXES)
    conflict = (
        (r_junior & is_senior)
        | (r_senior & is_junior)
        | (
            pl.col("r_suffix").is_not_null()
            & pl.col("m_suffix").is_not_null()
            & (pl.col("r_suffix") != pl.col("m_suffix"))
        )
    )
    return pl.when(conflict.fill_null(False)).then(SUFFIX_CONFLICT_BITS).otherwise(0.0)


def _personal_evidence() -> pl.Expr:
    tin_exact = pl.col("c_tin") == 3
    names_ok = (pl.col("c_first_name") >= 3) & (pl.col("c_last_name") >= 2)
    # a surname missing on one side, or changed (marriage), at the same address: the exact
    # given name and dob say who; no co-resident shares both
    surname_changed = (
        (pl.col("c_first_name") == 6)
        & (pl.col("c_last_name") <= 1)
        & (pl.col("c_dob") == 4)
        & (pl.col("c_address") >= 3)
    )
    dob_ok = pl.col("c_dob") != 1
    # a name is not an identity: it must be tied to the person by a dob, a TIN or an address
    anchored = (pl.col("c_dob") >= 3) | (pl.col("c_tin") >= 2) | (pl.col("c_address") >= 3)
    # at a shared address two different known names close in spelling (Mark/Mary, twins
    # Christina/Christian) cannot tell the person from a co-resident: that needs the TIN
    # too; a misspelling into no known name (Msry) can
    # ... and a contradicting middle name there (Brian James for Bryan W) needs a dob or TIN
    shared = pl.col("c_address") >= 3
    told_apart = (
        ~shared
        | (pl.col("c_tin") >= 2)
        | ((pl.col("c_first_name") >= 4) & ((pl.col("c_middle_name") != 1) | (pl.col("c_dob") >= 3)))
    )
    # an exact TIN identifies when one more personal field agrees with it
    tin_confirmed = tin_exact & (
        (pl.col("c_first_name") >= 2) | (pl.col("c_dob") >= 3) | (pl.col("c_last_name") >= 3)
    )
    return tin_confirmed | ((names_ok | surname_changed) & dob_ok & anchored & told_apart)


DECIDE_COLUMNS = ("rid", "tin", "c_address")
"""The levels' columns ``decide_outcomes`` reads besides ``w``, ``p`` and ``eligible``."""
GENERATION_COLUMNS = ("r_suffix", "m_suffix", "m_first_tok", "m_last_concat", "m_addr_key", "m_birth_year")
"""The levels' columns the generational penalty reads besides ``rid``."""


class CandidateScorer:
    """``score_candidates`` over levels that arrive in batches, in any order.

    Each batch is weighed as it comes (the weight and the personal evidence are per pair)
    and only ``columns`` of it are kept, with the few columns the generational penalty
    needs for the pairs of requests that give a suffix: so a batch of 10M persons' candidate
    levels need not be held whole (some 1.5 GB per 250k requests) to be scored. The
    penalty, the sort and the posteriors then run over what was kept, exactly as over the
    whole frame.
    """

    def __init__(
        self, m: LevelTable, u: LevelTable, *, suffixed: pl.Series, columns: Sequence[str] | None = None
    ) -> None:
        self._m = m
        self._suffixed_rids = suffixed
        self._weights = level_weights(m, u)
        self._columns = None if columns is None else tuple(columns)
        self._kept: list[pl.DataFrame] = []
        self._suffixed: list[pl.DataFrame] = []
        self.rows = 0
        """How many candidate pairs have been added."""

    def add(self, levels: pl.DataFrame) -> None:
        """Weigh one batch of candidate levels (whole requests or not)."""
        w = candidate_weights(levels, self._weights, self._m)
        row = pl.int_range(self.rows, self.rows + pl.len(), dtype=pl.Int64).alias("_row")
        kept = levels if self._columns is None else levels.select(*self._columns)
        self._kept.append(
            kept.with_columns(
                pl.Series("w", w), levels.select(_personal_evidence()).to_series().alias("eligible")
            )
        )
        # generational suffixes are rare in requests: the penalty needs only their pairs
        suffixed = levels.select("rid", *GENERATION_COLUMNS, row).filter(
            pl.col("rid").is_in(self._suffixed_rids)
        )
        if suffixed.height:
            self._suffixed.append(suffixed)
        self.rows += levels.height

    def scored(self, *, taxpayers: int, prior: float) -> pl.DataFrame:
        """Every pair added, sorted by request then weight, with ``w``, ``eligible`` and ``p``."""
        if not self._kept:
            raise ValueError("no candidate levels were added, not even an empty frame")
        scored = pl.concat(self._kept) if len(self._kept) > 1 else self._kept[0]
        self._kept = []
        if self._suffixed:
            suffixed = pl.concat(self._suffixed)
            self._suffixed = []
            penalty = suffixed.select("_row", _generation_penalty().alias("_pen"))
            w = scored.get_column("w").to_numpy(writable=True)
            w[penalty["_row"].to_numpy()] -= penalty["_pen"].to_numpy()
            scored = scored.with_columns(pl.Series("w", w))
        scored = scored.sort(["rid", "w", "tin"], descending=[False, True, False])
        p = _posteriors(scored["rid"].to_numpy(), scored["w"].to_numpy(), taxpayers=taxpayers, prior=prior)
        return scored.with_columns(pl.Series("p", p))


def score_candidates(
    levels: pl.DataFrame,
    m: LevelTable,
    u: LevelTable,
    *,
    taxpayers: int,
    prior: float,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Each candidate pair, sorted by request then weight, with its weight ``w`` and posterior ``p``.

    ``columns``: keep only these of the levels' columns (and ``w``, ``eligible``, ``p``);
    ``DECIDE_COLUMNS`` are what ``decide_outcomes`` needs.
    """
    suffixed = levels.filter(pl.col("r_suffix").is_not_null()).get_column("rid").unique()
    scorer = CandidateScorer(m, u, suffixed=suffixed, columns=columns)
    scorer.add(levels)
    return scorer.scored(taxpayers=taxpayers, prior=prior)


def _posteriors(rid: np.ndarray, w: np.ndarray, *, taxpayers: int, prior: float) -> np.ndarray:
    """Each candidate's posterior, candidates sorted by request then weight (best first).

    In log space, per request: p_i = 2^lo_i / ((1-q) + sum_j 2^lo_j).
    """
    lo = w + math.log2(prior / max(taxpayers, 1))
    starts = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]]) if rid.size else np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, rid.size])
    none_term = math.log2(1 - prior)
    shift = np.repeat(np.maximum(lo[starts] if rid.size else lo, none_term), sizes)  # sorted: first is max
    terms = np.exp2(lo - shift)
    denom = np.repeat(np.add.reduceat(terms, starts) if rid.size else terms, sizes) + np.exp2(
        none_term - shift
    )
    result: np.ndarray = terms / denom
    return result


EVIDENCE_LEVELS = ("c_tin", "c_first_name", "c_last_name", "c_dob", "c_address", "c_middle_name")
"""The comparison levels ``_personal_evidence`` reads."""


def _personal_evidence_of(row: Mapping[str, Any]) -> bool:
    """``_personal_evidence`` of one candidate row whose levels are all present (two-valued then)."""
    tin, first, last, dob = row["c_tin"], row["c_first_name"], row["c_last_name"], row["c_dob"]
    address, middle = row["c_address"], row["c_middle_name"]
    names_ok = first >= 3 and last >= 2
    surname_changed = first == 6 and last <= 1 and dob == 4 and address >= 3
    anchored = dob >= 3 or tin >= 2 or address >= 3
    told_apart = not address >= 3 or tin >= 2 or (first >= 4 and (middle != 1 or dob >= 3))
    tin_confirmed = tin == 3 and (first >= 2 or dob >= 3 or last >= 3)
    return bool(tin_confirmed or ((names_ok or surname_changed) and dob != 1 and anchored and told_apart))


def _generation_conflicts(rows: Sequence[Mapping[str, Any]]) -> list[bool]:
    """``_generation_penalty`` on Python values: whether each row's suffix rules its candidate out.

    ``rows`` are the rows of the requests that carry a suffix, as the frame path computes
    the penalty only for those. Null keys group together, as in
    polars' ``over``; null birth years are left out of the min and max; a null anywhere in
    a term leaves it short of true (the frame fills the null conflict with false).
    """
    window: dict[tuple[object, ...], list[int]] = {}
    home_rows: dict[tuple[object, ...], int] = {}
    home_years: dict[tuple[object, ...], list[int]] = {}
    for row in rows:
        key = (row["rid"], row["m_first_tok"], row["m_last_concat"])
        home = (*key, row["m_addr_key"])
        years = window.setdefault(key, [])
        at_home = home_years.setdefault(home, [])
        home_rows[home] = home_rows.get(home, 0) + 1
        if row["m_birth_year"] is not None:
            years.append(row["m_birth_year"])
            at_home.append(row["m_birth_year"])
    conflicts = []
    for row in rows:
        key = (row["rid"], row["m_first_tok"], row["m_last_concat"])
        home = (*key, row["m_addr_key"])
        years = home_years[home] if home_rows[home] > 1 else window[key]
        year = row["m_birth_year"]
        same_name = row["m_first_tok"] is not None and row["m_last_concat"] is not None
        gap = bool(years) and max(years) - min(years) >= GENERATION_GAP_YEARS
        is_senior = same_name and gap and year is not None and year == min(years)
        is_junior = same_name and gap and year is not None and year == max(years)
        r_suffix, m_suffix = row["r_suffix"], row["m_suffix"]
        conflicts.append(
            (r_suffix in JUNIOR_SUFFIXES and is_senior)
            or (r_suffix in SENIOR_SUFFIXES and is_junior)
            or (r_suffix is not None and m_suffix is not None and r_suffix != m_suffix)
        )
    return conflicts


def decide_rows(
    rows: Sequence[Mapping[str, Any]],
    rids: pl.Series,
    m: LevelTable,
    u: LevelTable,
    *,
    taxpayers: int,
    prior: float,
    config: LinkageConfig,
) -> pl.DataFrame | None:
    """``decide_outcomes(score_candidates(levels, ...), rids, config)`` on the levels' rows as Python values.

    For the online path's few candidate rows (``levels.to_dicts()``), where each polars
    operation's fixed cost is most of the work. The weights and posteriors are the same
    numpy code on the same arrays; the evidence, the generation penalty and the order are
    written again for Python values. Returns None (the caller takes the frame path, the
    definition) where the two could part: a missing level, rid or TIN, a weight that is
    not finite, or two rows of one request with the same TIN (the frame's order between them is not
    defined). ``tests/link/test_decide.py`` holds the two equal.
    """
    weights = level_weights(m, u)
    needed = (*(f"c_{name}" for name in weights), *EVIDENCE_LEVELS)
    if any(row[c] is None for row in rows for c in (*needed, "rid", "tin")):
        return None
    count = len(rows)
    w = _summed_weights(
        lambda name: np.fromiter((row[f"c_{name}"] for row in rows), dtype=np.int64, count=count),
        lambda column: np.fromiter(
            (np.nan if row[column] is None else row[column] for row in rows), dtype=np.float64, count=count
        ),
        count,
        weights,
        m,
    )
    suffixed = {row["rid"] for row in rows if row["r_suffix"] is not None}
    if suffixed:
        at = [i for i, row in enumerate(rows) if row["rid"] in suffixed]
        for i, conflict in zip(at, _generation_conflicts([rows[i] for i in at]), strict=True):
            if conflict:
                w[i] -= SUFFIX_CONFLICT_BITS
    if not np.isfinite(w).all() or len({(row["rid"], row["tin"]) for row in rows}) < count:
        return None
    weight = w.tolist()
    order = sorted(range(count), key=lambda i: (rows[i]["rid"], -weight[i], rows[i]["tin"]))
    rid = np.fromiter((rows[i]["rid"] for i in order), dtype=np.int64, count=count)
    p = _posteriors(rid, w[order], taxpayers=taxpayers, prior=prior).tolist()
    scored = (
        {
            "rid": rows[i]["rid"],
            "w": weight[i],
            "p": p[k],
            "eligible": _personal_evidence_of(rows[i]),
            "tin": rows[i]["tin"],
            "c_address": rows[i]["c_address"],
        }
        for k, i in enumerate(order)
    )
    return _decided_frame(_decide_scored_rows(scored, rids.to_list(), config), rids.dtype, pl.Utf8)


SMALL_SCORED = 512
"""Up to this many candidate rows, ``decide_outcomes`` runs on Python values (the online
path's few rows), where each polars operation's fixed cost is most of the work. The frame
path stays the definition; ``tests/link/test_decide.py`` holds the two equal."""


def decide_outcomes(scored: pl.DataFrame, rids: pl.Series, config: LinkageConfig) -> pl.DataFrame:
    """One decision per request id in ``rids``: outcome, reason, tin, probability, status.

    ``scored`` comes from ``score_candidates``: sorted by request, best candidate first.
    """
    if scored.height <= SMALL_SCORED and rids.len() <= SMALL_SCORED:
        return _decide_values(scored, rids, config)
    return _decide_frame(scored, rids, config)


def _at_least(value: float | None, bound: float) -> bool | None:
    """Polars' ``value >= bound``: null for null, and true for NaN (polars orders NaN above every number)."""
    if value is None:
        return None
    return math.isnan(value) or value >= bound


def _address_status(level: object) -> str:
    if level == 5:
        return AddressStatus.CURRENT.value
    if level == 4:
        return AddressStatus.PREVIOUS.value
    return AddressStatus.NOT_ON_FILE.value


def _decide_values(scored: pl.DataFrame, rids: pl.Series, config: LinkageConfig) -> pl.DataFrame:
    """``_decide_frame`` on Python values: the same rule, row by row (three-valued ``eligible``)."""
    rows = scored.select("rid", "w", "p", "eligible", "tin", "c_address").iter_rows(named=True)
    return _decided_frame(_decide_scored_rows(rows, rids.to_list(), config), rids.dtype, scored.schema["tin"])


_DECIDED = ("rid", "outcome", "reason", "tin", "match_probability", "address_status")


def _decide_scored_rows(
    scored: Iterable[Mapping[str, Any]], rids: Sequence[object], config: LinkageConfig
) -> dict[str, list[object]]:
    """The decision columns from scored rows (rid, w, p, eligible, tin, c_address), best first per request."""
    best: dict[object, Mapping[str, Any]] = {}
    second_w: dict[object, float] = {}
    plausible: dict[object, int] = {}
    for row in scored:
        rid = row["rid"]
        if rid not in best:
            best[rid] = row
        elif rid not in second_w:
            second_w[rid] = row["w"]
        if _at_least(row["p"], config.plausible_threshold):
            plausible[rid] = plausible.get(rid, 0) + 1
    columns: dict[str, list[object]] = {name: [] for name in _DECIDED}
    for rid in rids:
        top = best.get(rid)
        if top is None:
            values: tuple[object, ...] = (Outcome.NO_MATCH.value, Reason.NO_CANDIDATE.value, None, None, None)
        else:
            p = top["p"]
            lead_ok = rid not in second_w or _at_least(float(top["w"]) - second_w[rid], config.margin)
            is_match = top["eligible"] is True and _at_least(p, config.match_threshold) is True and lead_ok
            if is_match:
                values = (
                    Outcome.MATCH.value,
                    Reason.MATCHED.value,
                    top["tin"],
                    p,
                    _address_status(top["c_address"]),
                )
            elif plausible.get(rid, 0) >= 2:
                values = (Outcome.AMBIGUOUS.value, Reason.SEVERAL_CANDIDATES.value, None, p, None)
            else:
                values = (Outcome.NO_MATCH.value, Reason.BELOW_THRESHOLD.value, None, p, None)
        columns["rid"].append(rid)
        for name, value in zip(_DECIDED[1:], values, strict=True):
            columns[name].append(value)
    return columns


def _decided_frame(
    columns: dict[str, list[object]], rid_dtype: PolarsDataType, tin_dtype: PolarsDataType
) -> pl.DataFrame:
    return frame_of(
        columns,
        {
            "rid": rid_dtype,
            "outcome": pl.Utf8,
            "reason": pl.Utf8,
            "tin": tin_dtype,
            "match_probability": pl.Float64,
            "address_status": pl.Utf8,
        },
    )


def _decide_frame(scored: pl.DataFrame, rids: pl.Series, config: LinkageConfig) -> pl.DataFrame:
    """The decision rule on frames: the definition, and the batch path's."""
    ranked = scored.with_columns(pl.int_range(pl.len()).over("rid").alias("rank"))
    plausible = ranked.filter(pl.col("p") >= config.plausible_threshold).group_by("rid").len("n_plausible")
    second = ranked.filter(pl.col("rank") == 1).select("rid", pl.col("w").alias("w2"))
    best = (
        ranked.filter(pl.col("rank") == 0)
        .join(second, on="rid", how="left")
        .join(plausible, on="rid", how="left")
        .with_columns(pl.col("n_plausible").fill_null(0), (pl.col("w") - pl.col("w2")).alias("lead"))
    )
    is_match = (
        pl.col("eligible")
        & (pl.col("p") >= config.match_threshold)
        & (pl.col("lead").is_null() | (pl.col("lead") >= config.margin))
    )
    decided = best.select(
        "rid",
        pl.when(is_match)
        .then(pl.lit(Outcome.MATCH.value))
        .when(pl.col("n_plausible") >= 2)
        .then(pl.lit(Outcome.AMBIGUOUS.value))
        .otherwise(pl.lit(Outcome.NO_MATCH.value))
        .alias("outcome"),
        pl.when(is_match)
        .then(pl.lit(Reason.MATCHED.value))
        .when(pl.col("n_plausible") >= 2)
        .then(pl.lit(Reason.SEVERAL_CANDIDATES.value))
        .otherwise(pl.lit(Reason.BELOW_THRESHOLD.value))
        .alias("reason"),
        pl.when(is_match).then(pl.col("tin")).alias("tin"),
        pl.col("p").alias("match_probability"),
        pl.when(is_match)
        .then(
            pl.when(pl.col("c_address") == 5)
            .then(pl.lit(AddressStatus.CURRENT.value))
            .when(pl.col("c_address") == 4)
            .then(pl.lit(AddressStatus.PREVIOUS.value))
            .otherwise(pl.lit(AddressStatus.NOT_ON_FILE.value))
        )
        .alias("address_status"),
    )
    everyone = pl.DataFrame({"rid": rids})
    return everyone.join(decided, on="rid", how="left").with_columns(
        pl.col("outcome").fill_null(Outcome.NO_MATCH.value),
        pl.col("reason").fill_null(Reason.NO_CANDIDATE.value),
    )
