"""Query budgets: an agency may not learn by many variants what one request may not disclose.

**Subject keys.** Each request gets a set of 64-bit keys, one per *facet*, each a fixed
polynomial (mod 2**64) of the BLAKE2b hashes of normalised fields (custodes.normalize:
accents folded, nickname groups, surname tokens without particles, USPS street forms, dob
parsed); each field's distinct values are hashed once:

- A/B: first-name key, surname token, dob (an address change keeps these);
- C/D: first-name key, surname token, house number, ZIP5 (a dob change keeps these);
- E: first initial, dob, house number, ZIP5 (a spelling change keeps these);
- F/G: NYSIIS of first name and surname token, dob (a misspelling with a move keeps these).

A first name contributes one key per member of its nickname group (Bill, William; Pepe,
José), and a two-part surname one per token (A/C/F use the smallest token, B/D/G the
largest), so "José García López" and "Pepe Garcia" share keys. Two requests that share
any key are about the same subject, and so is a chain of them: subjects are the connected
components of the request-key graph, found by vectorised label propagation (polars joins
over the edge list), so a 100k-row batch against a month of history takes a second or
two. Twins at one address with one initial share facet E and count as one subject; a
budget refusal discloses nothing, so this errs on the safe side.

**Budgets.** Per agency, the answered queries about one subject in the last
``window_days`` may not exceed ``subject_limit``; per agency and UTC day, answered requests
may not exceed the daily cap. Only requests that passed the legal checks count (a refused
request reveals nothing). Within a batch, requests are taken in row order; those past a
budget are refused with ``query_budget_exceeded``. Every counted or budget-refused query is
stored with its keys in the batch's transaction, so the state survives restarts and the
refusals are in the accounting log as decisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl
from sqlalchemy import Connection, bindparam, func, select

from custodes.codes import Reason
from custodes.config import BudgetConfig
from custodes.frames import column_rows, frame_of, frame_of_rows
from custodes.normalize import normalize_addresses, normalize_dob, normalize_names, phonetic
from custodes.oversight.tables import budget_keys, budget_queries
from custodes.store.bulk import JSON_MIN_ROWS, bulk_insert, insert_rows

ANSWERED, REFUSED = "answered", "refused"
SUBJECT_BUDGET, DAILY_CAP = "subject", "daily_cap"
_SEP = "\x1f"


_MIX = 0x9E3779B97F4A7C15
"""An odd 64-bit multiplier: facet keys combine their fields' hashes as a polynomial mod 2**64."""


def _blake64(value: str | None) -> int | None:
    """Unsigned 64-bit BLAKE2b of ``value`` (None for None): the one hash of every facet field."""
    if value is None:
        return None
    return int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "big")


def _hash64(values: pl.Series) -> pl.Series:
    """Unsigned 64-bit BLAKE2b of each distinct string (stable across runs and versions)."""
    table = {v: _blake64(v) for v in values.unique().drop_nulls().to_list()}
    return values.replace_strict(table, default=None, return_dtype=pl.UInt64)


def _phonetic(column: pl.Series) -> pl.Series:
    distinct = column.unique().drop_nulls().to_list()
    return column.replace_strict(
        {v: phonetic(v) or None for v in distinct}, default=None, return_dtype=pl.Utf8
    )


def _facet(tag: int, *fields: str) -> pl.Expr:
    """The facet's key from its fields' hashes; null when a field is missing.

    Integer arithmetic wraps modulo 2**64, so the key is a fixed polynomial of the hashes:
    the same fields give the same key in any run. Hashing each field's few distinct values
    once is what keeps a 100k-row batch fast.
    """
    key: pl.Expr = pl.lit(tag, pl.UInt64)
    for name in fields:
        key = key * pl.lit(_MIX, pl.UInt64) + pl.col(name)
    return key.reinterpret(signed=True)


def subject_edges(frame: pl.DataFrame, today: date) -> pl.DataFrame:
    """(row_number, key) for every facet key of every request row of ``frame``."""
    base = frame.select(
        "row_number",
        *(
            pl.col(c).cast(pl.Utf8)
            for c in ("first_name", "middle_name", "last_name", "dob", "street", "zip", "city")
        ),
    )
    names = normalize_names(base, "first_name", "middle_name", "last_name")
    fields = normalize_addresses(names, "street", "zip", "city").select(
        pl.col("row_number").cast(pl.Int64),
        "first_keys",
        "first_tok",
        "last_tokens",
        normalize_dob("dob", today=today).cast(pl.Utf8).alias("dob"),
        "house",
        "zip5",
    )
    return _edges_of_fields(fields)


def prepared_edges(prepared: pl.DataFrame) -> pl.DataFrame:
    """``subject_edges`` of requests already prepared for linkage (``prepare_people``, by ``rid``).

    The linkage's preparation runs the same normalisation with the same ``today``, so the
    keys are the same; the online path prepares a group's subjects once for both.
    """
    # built from the series, not by ``select``: an eager select goes through polars' query
    # engine, a fixed cost that was a tenth of an online group's CPU (py-spy, 2026-12-07)
    fields = pl.DataFrame(
        [
            prepared.get_column("rid").cast(pl.Int64).alias("row_number"),
            *(prepared.get_column(name) for name in ("first_keys", "first_tok", "last_tokens")),
            prepared.get_column("dob_d").cast(pl.Utf8).alias("dob"),
            *(prepared.get_column(name) for name in ("house", "zip5")),
        ]
    )
    return _edges_of_fields(fields)


SMALL_ROWS = 64
"""Up to this many rows (an online group), the keys are derived on Python values: a polars
pipeline's fixed cost is some 17 ms, whatever the rows. ``_edges_of_frame`` is the definition;
``tests/oversight/test_budgets.py`` holds the two equal on every hard synth category."""

_MASK = (1 << 64) - 1


def _edges_of_fields(fields: pl.DataFrame) -> pl.DataFrame:
    if fields.height <= SMALL_ROWS:
        return _edges_of_values(fields)
    return _edges_of_frame(fields)


def _facet_value(tag: int, *hashes: int | None) -> int | None:
    key = tag
    for h in hashes:
        if h is None:
            return None
        key = (key * _MIX + h) & _MASK
    return key - (1 << 64) if key >= 1 << 63 else key


def _edges_of_values(fields: pl.DataFrame) -> pl.DataFrame:
    """``_edges_of_frame`` computed row by row on Python values (the same set of edges)."""
    per_first: list[tuple[int, int | None]] = []
    per_row: list[tuple[int, int | None]] = []
    for row in fields.iter_rows(named=True):
        number = row["row_number"]
        last = [t for t in (row["last_tokens"] or ()) if t is not None]
        lmin, lmax = (min(last), max(last)) if last else (None, None)
        first_tok = row["first_tok"]
        house, zip5 = row["house"], row["zip5"]
        addr = None if house is None or zip5 is None else f"{house}{_SEP}{zip5}"
        pf, plmin, plmax = (None if v is None else phonetic(v) or None for v in (first_tok, lmin, lmax))
        h_dob, h_lmin, h_lmax, h_addr = (_blake64(v) for v in (row["dob"], lmin, lmax, addr))
        for first_key in row["first_keys"] or ():
            if first_key is None:
                continue
            fk = _blake64(first_key)
            per_first.extend(
                (number, _facet_value(tag, fk, h_last, h_other))
                for tag, h_last, h_other in (
                    (1, h_lmin, h_dob), (2, h_lmax, h_dob), (3, h_lmin, h_addr), (4, h_lmax, h_addr)
                )
            )  # fmt: skip
        finit = None if first_tok is None else first_tok[:1]
        per_row.append((number, _facet_value(5, _blake64(finit), h_dob, h_addr)))
        per_row.append((number, _facet_value(6, _blake64(pf), _blake64(plmin), h_dob)))
        per_row.append((number, _facet_value(7, _blake64(pf), _blake64(plmax), h_dob)))
    edges = [(n, k) for n, k in dict.fromkeys(per_first + per_row) if k is not None]
    return frame_of_rows(edges, {"row_number": pl.Int64, "key": pl.Int64})


def _edges_of_frame(fields: pl.DataFrame) -> pl.DataFrame:
    both = fields.select(
        "row_number",
        "first_keys",
        "dob",
        pl.col("last_tokens").list.min().alias("lmin"),
        pl.col("last_tokens").list.max().alias("lmax"),
        pl.col("first_tok").str.slice(0, 1).alias("finit"),
        "first_tok",
        pl.concat_str(["house", "zip5"], separator=_SEP).alias("addr"),
    )
    both = both.with_columns(
        _phonetic(both["first_tok"]).alias("pf"),
        _phonetic(both["lmin"]).alias("plmin"),
        _phonetic(both["lmax"]).alias("plmax"),
    )
    hashed = both.with_columns(
        _hash64(both[c]).alias(c) for c in ("dob", "lmin", "lmax", "finit", "addr", "pf", "plmin", "plmax")
    )
    firsts = hashed.select("row_number", "first_keys").explode("first_keys").drop_nulls("first_keys")
    firsts = firsts.with_columns(_hash64(firsts["first_keys"]).alias("fk")).join(
        hashed.select("row_number", "dob", "lmin", "lmax", "addr"), on="row_number"
    )
    per_first = firsts.select(
        "row_number",
        pl.concat_list(
            _facet(1, "fk", "lmin", "dob"),
            _facet(2, "fk", "lmax", "dob"),
            _facet(3, "fk", "lmin", "addr"),
            _facet(4, "fk", "lmax", "addr"),
        ).alias("key"),
    )
    per_row = hashed.select(
        "row_number",
        pl.concat_list(
            _facet(5, "finit", "dob", "addr"),
            _facet(6, "pf", "plmin", "dob"),
            _facet(7, "pf", "plmax", "dob"),
        ).alias("key"),
    )
    return pl.concat([per_first, per_row]).explode("key").drop_nulls("key").unique(maintain_order=True)


def components(edges: pl.DataFrame, nodes: pl.Series) -> pl.DataFrame:
    """(node, subject): the connected component of each node in the node-key graph.

    The subject is the smallest node of the component. Label propagation: each key takes
    the smallest label among its nodes, each node the smallest among its keys, until stable.
    Small graphs (an online group's) are labelled on Python values by ``_components_of_values``,
    held equal to this definition by ``tests/oversight/test_budgets.py``.
    """
    if edges.height <= SMALL_EDGES:
        return _components_of_values(edges, nodes)
    all_nodes = pl.DataFrame({"node": nodes.cast(pl.Int64)})
    # a key held by one node links nothing: propagate only over keys that nodes share
    edges = edges.unique().filter(pl.col("key").is_duplicated())
    labels = edges.select("node").unique().with_columns(pl.col("node").alias("subject"))
    while True:
        joined = edges.join(labels, on="node")
        per_key = joined.group_by("key").agg(pl.col("subject").min().alias("via"))
        per_node = joined.join(per_key, on="key").group_by("node").agg(pl.col("via").min())
        updated = labels.join(per_node, on="node", how="left").select(
            "node", pl.min_horizontal("subject", "via").alias("subject")
        )
        # pointer jumping: a node's new label takes its label's label, halving chain lengths
        updated = updated.join(
            updated.rename({"node": "subject", "subject": "jump"}), on="subject", how="left"
        ).select("node", pl.min_horizontal("subject", "jump").alias("subject"))
        if updated.sort("node")["subject"].equals(labels.sort("node")["subject"]):
            return (
                all_nodes.join(updated, on="node", how="left")
                .with_columns(pl.coalesce("subject", "node").alias("subject"))
                .sort("node")
            )
        labels = updated


SMALL_EDGES = 4_096
"""Up to this many edges, ``components`` labels on Python values (union-find)."""


def _labels(edges: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Union-find over (node, key) edges: each node that holds a key -> its component's smallest node."""
    parent: dict[int, int] = {}

    def root(n: int) -> int:
        while (p := parent.setdefault(n, n)) != n:
            parent[n] = parent.setdefault(p, p)  # path halving
            n = parent[n]
        return n

    holder: dict[int, int] = {}
    for node, key in edges:
        if key in holder:
            a, b = root(holder[key]), root(node)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            holder[key] = node
    return {n: root(n) for n in parent}


def _components_of_values(edges: pl.DataFrame, nodes: pl.Series) -> pl.DataFrame:
    """``components`` by union-find: each component's label is its smallest node."""
    label = _labels(edges.rows())
    ordered = sorted(nodes.cast(pl.Int64).to_list())
    return pl.DataFrame(
        {"node": ordered, "subject": [label.get(n, n) for n in ordered]},
        schema={"node": pl.Int64, "subject": pl.Int64},
    )


@dataclass(frozen=True)
class BudgetCheck:
    """The budget verdict on one batch's eligible rows, and the queries to record."""

    refusals: pl.Series
    """Per row of the batch (row order): ``query_budget_exceeded`` or null."""
    queries: pl.DataFrame
    """Rows for ``oversight_budget_queries``: every eligible row with its keys and status."""


def _edges_text(edges: pl.DataFrame) -> pl.DataFrame:
    return edges.group_by("row_number").agg(
        pl.col("key").sort().cast(pl.Utf8).str.join(" ").alias("subject_keys")
    )


_HISTORY_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "batch_id": pl.Utf8, "row_number": pl.Int64, "request_id": pl.Utf8,
    "requested_at": pl.Datetime("us", "UTC"), "subject_keys": pl.Utf8, "status": pl.Utf8,
    "budget": pl.Utf8,
}  # fmt: skip


def load_history(
    conn: Connection, agency: str, since: datetime, exclude: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """The agency's stored queries since ``since``: batch, row, time, keys and status
    (``exclude``: batch ids left out)."""
    left_out = (budget_queries.c.batch_id.not_in(sorted(exclude)),) if exclude else ()
    rows = conn.execute(
        select(
            budget_queries.c.batch_id,
            budget_queries.c.row_number,
            budget_queries.c.request_id,
            budget_queries.c.requested_at,
            budget_queries.c.subject_keys,
            budget_queries.c.status,
            budget_queries.c.budget,
        )
        .where(budget_queries.c.agency == agency, budget_queries.c.requested_at >= since, *left_out)
        .order_by(budget_queries.c.requested_at, budget_queries.c.batch_id, budget_queries.c.row_number)
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=_HISTORY_SCHEMA, orient="row")


LOOKUP_ROWS = 2_000
"""Batches up to this many eligible rows find their history by key (``connected_history``);
larger ones read the agency's whole window, which is then cheaper than the lookups."""
_IN_CHUNK = 1_000


_ROWS_BY_KEYS = select(budget_keys.c.batch_id, budget_keys.c.row_number).where(
    budget_keys.c.agency == bindparam("agency"),
    budget_keys.c.subject_key.in_(bindparam("keys", expanding=True)),
)
_HISTORY_BY_ROWS = select(
    budget_queries.c.batch_id,
    budget_queries.c.row_number,
    budget_queries.c.request_id,
    budget_queries.c.requested_at,
    budget_queries.c.subject_keys,
    budget_queries.c.status,
    budget_queries.c.budget,
).where(
    budget_queries.c.agency == bindparam("agency"),
    budget_queries.c.batch_id == bindparam("batch_id"),
    budget_queries.c.row_number.in_(bindparam("rows", expanding=True)),
)


def connected_history(
    conn: Connection, agency: str, since: datetime, keys: set[int], exclude: frozenset[str] = frozenset()
) -> pl.DataFrame:
    """The agency's stored queries since ``since`` connected to ``keys`` through shared keys.

    Exactly the history rows in the components of the requests holding ``keys``: each round
    looks up the queries holding a key not looked up yet (``oversight_budget_keys``), and
    their keys are the next round's, until none is new. Rows as ``load_history`` returns them.
    The queries of the batches in ``exclude`` are neither returned nor followed.
    """
    found: dict[tuple[str, int], tuple[object, ...]] = {}
    looked: set[int] = set()
    frontier = set(keys)
    while frontier:
        looked |= frontier
        wanted = sorted(frontier)
        frontier = set()
        # two index lookups, not one join: planners start a join from the agency's window
        held: set[tuple[str, int]] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            held.update(
                (b, r)
                for b, r in conn.execute(
                    _ROWS_BY_KEYS, {"agency": agency, "keys": wanted[start : start + _IN_CHUNK]}
                )
            )
        pending: dict[str, list[int]] = {}
        for batch_id, row_number in sorted(held - found.keys()):
            if batch_id not in exclude:
                pending.setdefault(batch_id, []).append(row_number)
        # one primary-key lookup per batch: a row-value IN over (batch, row) pairs made SQLite
        # scan the agency's whole window, and the window is checked here rather than in SQL so
        # that no planner prefers the (agency, requested_at) index
        for batch_id, row_numbers in pending.items():
            for start in range(0, len(row_numbers), _IN_CHUNK):
                rows = conn.execute(
                    _HISTORY_BY_ROWS,
                    {"agency": agency, "batch_id": batch_id, "rows": row_numbers[start : start + _IN_CHUNK]},
                ).all()
                for row in rows:
                    if _aware(row[3]) < since:
                        continue
                    found[(row[0], row[1])] = tuple(row)
                    frontier.update(int(x) for x in row[4].split())
        frontier -= looked
    ordered = sorted(found.values(), key=lambda r: (_aware(r[3]), r[0], r[1]))  # type: ignore[arg-type]
    return frame_of_rows(ordered, _HISTORY_SCHEMA)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def answered_since(
    conn: Connection, agency: str, since: datetime, exclude: frozenset[str] = frozenset()
) -> int:
    """How many of the agency's queries since ``since`` were answered (for the daily cap),
    leaving out the batches in ``exclude``."""
    q = budget_queries.c
    left_out = (q.batch_id.not_in(sorted(exclude)),) if exclude else ()
    where = (q.agency == agency, q.requested_at >= since, q.status == ANSWERED, *left_out)
    count = conn.execute(select(func.count()).where(*where)).scalar_one()
    return int(count)


def _history_edges(history: pl.DataFrame, offset: int) -> pl.DataFrame:
    return (
        history.with_row_index("node", offset=offset)
        .select(pl.col("node").cast(pl.Int64), pl.col("subject_keys").str.split(" ").alias("key"))
        .explode("key")
        .filter(pl.col("key") != "")
        .select("node", pl.col("key").cast(pl.Int64))
    )


def check_budgets(
    conn: Connection,
    config: BudgetConfig,
    *,
    agency: str,
    frame: pl.DataFrame,
    refused: pl.Series,
    now: datetime,
    prepared: pl.DataFrame | None = None,
    exclude: frozenset[str] = frozenset(),
) -> BudgetCheck:
    """Budget refusals for ``frame`` (request rows in row order) whose legal refusal is ``refused``.

    ``prepared``: the eligible rows already prepared for linkage (``rid`` = row number), whose
    normalised fields then give the subject keys without normalising the rows again.
    ``exclude``: batch ids whose stored queries do not count (the batches being checked, when
    they are recorded already in the caller's transaction).
    """
    cap = config.cap_for(agency)
    eligible = frame if refused.null_count() == len(refused) else frame.filter(refused.is_null().alias("_ok"))
    empty = pl.Series("budget_reason", [None] * frame.height, dtype=pl.Utf8)
    if (config.subject_limit == 0 and cap == 0) or eligible.is_empty():
        return BudgetCheck(empty, pl.DataFrame())
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    window_start = now - timedelta(days=config.window_days)
    if prepared is None:
        edges = subject_edges(eligible, now.date())
    else:
        rows = eligible["row_number"].cast(pl.Int64)
        if prepared.height != rows.len() or not prepared["rid"].cast(pl.Int64).equals(rows):
            prepared = prepared.filter(pl.col("rid").cast(pl.Int64).is_in(rows.implode()))
        edges = prepared_edges(prepared)
    edges = edges.rename({"row_number": "node"})
    if eligible.height <= LOOKUP_ROWS:
        in_window = connected_history(conn, agency, window_start, set(edges["key"].to_list()), exclude)
        used = answered_since(conn, agency, day_start, exclude) if cap else 0
    else:
        history = load_history(conn, agency, min(window_start, day_start), exclude)
        in_window = history.filter(pl.col("requested_at") >= window_start)
        used = history.filter((pl.col("requested_at") >= day_start) & (pl.col("status") == ANSWERED)).height
    return budget_verdict(config, cap, frame, eligible, edges, in_window, used)


def budget_verdict(  # noqa: PLR0917 - the check's parts, in the order check_budgets has them
    config: BudgetConfig,
    cap: int,
    frame: pl.DataFrame,
    eligible: pl.DataFrame,
    edges: pl.DataFrame,
    in_window: pl.DataFrame,
    used: int,
) -> BudgetCheck:
    """The refusals and queries of ``check_budgets`` from its eligible rows, their edges (node,
    key), the history in the window (``load_history`` rows) and the answers used today.

    Up to ``SMALL_ROWS`` eligible rows and ``SMALL_EDGES`` edges it is decided on Python
    values (``_verdict_of_values``); ``_verdict_of_frame`` is the definition, and
    ``tests/oversight/test_budgets.py`` holds the two equal.
    """
    if eligible.height <= SMALL_ROWS and edges.height + 8 * in_window.height <= SMALL_EDGES:
        return _verdict_of_values(config, cap, frame, eligible, edges, in_window, used)
    return _verdict_of_frame(config, cap, frame, eligible, edges, in_window, used)


def _verdict_of_values(  # noqa: PLR0917 - budget_verdict's parameters
    config: BudgetConfig,
    cap: int,
    frame: pl.DataFrame,
    eligible: pl.DataFrame,
    edges: pl.DataFrame,
    in_window: pl.DataFrame,
    used: int,
) -> BudgetCheck:
    """``_verdict_of_frame`` computed on Python values."""
    numbers = eligible["row_number"].cast(pl.Int64).to_list()
    request_ids = eligible["request_id"].to_list()
    offset = max(numbers, default=0) + 1
    pairs: list[tuple[int, int]] = edges.rows()
    history = [
        (offset + i, [int(k) for k in text.split(" ") if k != ""], status)
        for i, (text, status) in enumerate(zip(in_window["subject_keys"], in_window["status"], strict=True))
    ]
    graph = pairs + [(node, key) for node, keys, _ in history for key in keys]
    label = _labels(graph)
    answered_before: dict[int, int] = {}
    for node, _, status in history:
        if status == ANSWERED:
            subject = label.get(node, node)
            answered_before[subject] = answered_before.get(subject, 0) + 1
    keys: dict[int, list[int]] = {}
    for node, key in pairs:
        keys.setdefault(node, []).append(key)
    seen: dict[int, int] = {}
    answered_today = 0
    budget: dict[int, str | None] = {}
    rows = sorted(zip(numbers, request_ids, strict=True), key=lambda r: r[0])
    for node, _ in rows:
        subject = label.get(node, node)
        rank = seen.get(subject, 0)
        seen[subject] = rank + 1
        verdict = None
        if config.subject_limit > 0 and answered_before.get(subject, 0) + rank >= config.subject_limit:
            verdict = SUBJECT_BUDGET
        elif cap:
            answered_today += 1
            if answered_today + used > cap:
                verdict = DAILY_CAP
        budget[node] = verdict
    queries = frame_of(
        {
            "row_number": [node for node, _ in rows],
            "request_id": [request_id for _, request_id in rows],
            "status": [ANSWERED if budget[node] is None else REFUSED for node, _ in rows],
            "budget": [budget[node] for node, _ in rows],
            "subject_keys": [" ".join(str(k) for k in sorted(keys.get(node, ()))) for node, _ in rows],
        },
        {
            "row_number": pl.Int64, "request_id": eligible.schema["request_id"], "status": pl.Utf8,
            "budget": pl.Utf8, "subject_keys": pl.Utf8,
        },
    )  # fmt: skip
    exceeded = Reason.QUERY_BUDGET_EXCEEDED.value
    reasons = pl.Series(
        "budget_reason",
        [None if budget.get(n) is None else exceeded for n in frame["row_number"].cast(pl.Int64).to_list()],
        dtype=pl.Utf8,
    )
    return BudgetCheck(reasons, queries)


def _verdict_of_frame(  # noqa: PLR0917 - budget_verdict's parameters
    config: BudgetConfig,
    cap: int,
    frame: pl.DataFrame,
    eligible: pl.DataFrame,
    edges: pl.DataFrame,
    in_window: pl.DataFrame,
    used: int,
) -> BudgetCheck:
    """``budget_verdict`` as frame operations: the definition, whatever the sizes."""
    offset = int(eligible["row_number"].cast(pl.Int64).max() or 0) + 1  # type: ignore[arg-type]
    all_edges = pl.concat([edges, _history_edges(in_window, offset)])
    nodes = pl.concat(
        [eligible["row_number"].cast(pl.Int64), pl.int_range(offset, offset + in_window.height, eager=True)]
    )
    subjects = components(all_edges, nodes)
    answered_before = (
        in_window.with_row_index("node", offset=offset)
        .filter(pl.col("status") == ANSWERED)
        .select(pl.col("node").cast(pl.Int64))
        .join(subjects, on="node")
        .group_by("subject")
        .len("previous")
    )
    decided = (
        eligible.select(pl.col("row_number").cast(pl.Int64).alias("node"), "request_id")
        .join(subjects, on="node", how="left")
        .join(answered_before, on="subject", how="left")
        .sort("node")
        .with_columns(
            pl.col("previous").fill_null(0),
            pl.int_range(pl.len()).over("subject").alias("rank"),
        )
    )
    over_subject = pl.lit(config.subject_limit > 0) & (
        (pl.col("previous") + pl.col("rank")) >= config.subject_limit
    )
    decided = decided.with_columns(pl.when(over_subject).then(pl.lit(SUBJECT_BUDGET)).alias("budget"))
    if cap:
        position = pl.when(pl.col("budget").is_null()).then(pl.col("budget").is_null().cum_sum())
        decided = decided.with_columns(
            pl.when(pl.col("budget").is_null() & (position + used > cap))
            .then(pl.lit(DAILY_CAP))
            .otherwise(pl.col("budget"))
            .alias("budget")
        )
    keys = _edges_text(edges.rename({"node": "row_number"}))
    queries = (
        decided.select(
            pl.col("node").alias("row_number"),
            "request_id",
            pl.when(pl.col("budget").is_null())
            .then(pl.lit(ANSWERED))
            .otherwise(pl.lit(REFUSED))
            .alias("status"),
            "budget",
        )
        .join(keys, on="row_number", how="left")
        .with_columns(pl.col("subject_keys").fill_null(""))
    )
    reasons = (
        frame.select(pl.col("row_number").cast(pl.Int64))
        .join(decided.select(pl.col("node").alias("row_number"), "budget"), on="row_number", how="left")
        .select(pl.when(pl.col("budget").is_not_null()).then(pl.lit(Reason.QUERY_BUDGET_EXCEEDED.value)))
        .to_series()
        .alias("budget_reason")
    )
    return BudgetCheck(reasons, queries)


def record_queries(
    conn: Connection, agency: str, batch_id: str | pl.Expr, at: datetime, queries: pl.DataFrame
) -> None:
    """Store a batch's counted and budget-refused queries (inside the batch's transaction).

    ``batch_id`` names the batch, or is an expression over ``queries`` giving each row's
    batch when a group of online verifications is stored at once.
    """
    if queries.is_empty():
        return
    if queries.height < JSON_MIN_ROWS:
        owners = (
            [batch_id] * queries.height
            if isinstance(batch_id, str)
            else queries.select(batch_id.alias("batch_id"))["batch_id"].to_list()
        )
        columns = column_rows(queries, QUERY_VALUES)
        record_query_rows(conn, agency, at, [(b, *row) for b, row in zip(owners, columns, strict=True)])
        return
    owner = pl.lit(batch_id) if isinstance(batch_id, str) else batch_id
    rows = queries.select(
        pl.lit(agency).alias("agency"),
        owner.alias("batch_id"),
        "row_number",
        "request_id",
        pl.lit(at).alias("requested_at"),
        "subject_keys",
        "status",
        "budget",
    )
    bulk_insert(conn, budget_queries, rows)
    keys = (
        rows.select("batch_id", "row_number", pl.col("subject_keys").str.split(" ").alias("subject_key"))
        .explode("subject_key")
        .filter(pl.col("subject_key") != "")
        .select(
            pl.lit(agency).alias("agency"), pl.col("subject_key").cast(pl.Int64), "batch_id", "row_number"
        )
        .unique()
    )
    bulk_insert(conn, budget_keys, keys)


QueryRow = tuple[str, int, str, str, str, str | None]
"""One stored query as Python values: batch_id, row_number, request_id, subject_keys, status, budget."""
QUERY_VALUES = ("row_number", "request_id", "subject_keys", "status", "budget")
"""The columns of a ``BudgetCheck.queries`` frame that a ``QueryRow`` holds after its batch_id."""


_QUERY_COLUMNS = (
    "agency", "batch_id", "row_number", "request_id", "requested_at", "subject_keys", "status", "budget",
)  # fmt: skip


def record_query_rows(conn: Connection, agency: str, at: datetime, rows: Sequence[QueryRow]) -> None:
    """``record_queries`` for a few queries given as Python values (an online group's)."""
    insert_rows(
        conn,
        budget_queries,
        _QUERY_COLUMNS,
        [(agency, b, n, r, at, keys, status, budget) for b, n, r, keys, status, budget in rows],
    )
    keys = {(agency, int(key), b, n) for b, n, _, text, _, _ in rows for key in text.split(" ") if key != ""}
    insert_rows(conn, budget_keys, ("agency", "subject_key", "batch_id", "row_number"), sorted(keys))


@dataclass(frozen=True)
class SubjectPattern:
    """One subject an agency asked about repeatedly: the evidence of a fishing pattern."""

    subject: int
    queries: int
    answered: int
    refused: int
    batches: tuple[str, ...]
    request_ids: tuple[str, ...]
    first_at: datetime
    last_at: datetime


def repeated_subjects(
    conn: Connection, agency: str, since: datetime, *, minimum: int = 2
) -> list[SubjectPattern]:
    """Subjects with at least ``minimum`` queries by ``agency`` since ``since``, most queried first."""
    history = load_history(conn, agency, since)
    if history.is_empty():
        return []
    edges = _history_edges(history, 0)
    subjects = components(edges, pl.int_range(0, history.height, eager=True))
    grouped = (
        history.with_row_index("node")
        .with_columns(pl.col("node").cast(pl.Int64))
        .join(subjects, on="node")
        .group_by("subject")
        .agg(
            pl.len().alias("queries"),
            (pl.col("status") == ANSWERED).sum().alias("answered"),
            (pl.col("status") == REFUSED).sum().alias("refused"),
            pl.col("batch_id").unique(maintain_order=True).alias("batches"),
            pl.col("request_id").alias("request_ids"),
            pl.col("requested_at").min().alias("first_at"),
            pl.col("requested_at").max().alias("last_at"),
        )
        .filter(pl.col("queries") >= minimum)
        .sort(["queries", "subject"], descending=[True, False])
    )
    return [
        SubjectPattern(
            subject=int(r["subject"]),
            queries=int(r["queries"]),
            answered=int(r["answered"]),
            refused=int(r["refused"]),
            batches=tuple(r["batches"]),
            request_ids=tuple(r["request_ids"]),
            first_at=r["first_at"],
            last_at=r["last_at"],
        )
        for r in grouped.iter_rows(named=True)
    ]
