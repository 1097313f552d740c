"""Online linkage: one subject decided in milliseconds, exactly as the batch path would.

A batch is one big join on DuckDB. One online request is a handful of point lookups, where
a DuckDB scan costs more than the work (docs/architecture.md). This module keeps the batch
path's definitions and changes only how they are executed:

- **Blocking.** ``write_online_tables`` (run by ``custodes master load``, inside the index
  file) stores, for every rule of ``custodes.link.blocking.RULES``, a table of
  (rule, 64-bit hash of the compound key, person) sorted by hash, built from the index
  tables the rules are defined on, without the oversized keys (``custodes.link.keys``). The
  batch joins its requests' key hashes with that table in DuckDB; ``OnlineMatcher`` loads
  it into numpy arrays once per process, and a request's candidates are binary searches
  for its own keys, built by the batch path's ``request_tables``. A hash collision can only
  add a candidate, never lose one (probability about 2^-64 per key pair).
- **Many at once.** ``decide`` takes any number of requests: the service groups requests
  that arrive together, so the fixed cost of each frame operation is paid once per group.
- **Rivals.** Co-residents of each candidate at addresses with at most ``HOUSEHOLD_LIMIT``
  taxpayers are added, and pairs failing ``PAIR_FILTER`` dropped, as in the batch.
- **Comparison.** The comparison levels are the SQL of ``custodes.link.comparisons``,
  executed in Python by ``custodes.link.pysql`` (one definition, two executions).
- **Decision.** ``score_candidates`` and ``decide_outcomes`` of ``custodes.link.decide``
  themselves run on the request's few candidate rows: the co-resident rivals, the margin
  and the Jr/Sr rule are the batch's own code (``decide_outcomes`` executes its rule on
  Python values for a few rows, held equal to the frame rule by tests).

**Model parameters.** m, u, the taxpayer count (``custodes.link.model.load_parameters``),
the known given names and the term frequencies all come from the index, exactly as the
batch reads them, so a subject's online decision equals its batch decision;
``tests/link/test_online.py`` checks that on every request of a synthetic batch.
"""

from __future__ import annotations

import random
import struct
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import polars as pl

from custodes.config import LinkageConfig, Settings
from custodes.contract.requests import subjects_frame
from custodes.errors import StoreError
from custodes.link.blocking import RULES
from custodes.link.comparisons import NAME_COMPARISONS, address_level_sql
from custodes.link.decide import SMALL_SCORED, decide_outcomes, decide_rows, score_candidates
from custodes.link.engines.duckdb import PAIR_FILTER, request_rows
from custodes.link.features import PAIR_CONTEXT_COLUMNS
from custodes.link.keys import (
    CANARY_KEY,
    HOUSEHOLD_LIMIT,
    KEY_ARITY,
    ONLINE_FORMAT,
    canary_hash,
    check_online_tables,
    has_online_meta,
    index_side,
    key_hash_sql,
    stored_rule,
)
from custodes.link.model import ModelParameters, load_parameters
from custodes.link.prepare import COMPARABLE_COLUMNS, PERSON_FIELDS, prepare_people
from custodes.link.pysql import columns_of, compile_sql
from custodes.link.sql import query_frame

ADDRESS_FIELDS = ("house", "street_std", "unit", "zip5", "city_std", "state_std", "is_current")
"""Columns of a taxpayer's addresses that the address comparison reads."""
RECORD_ADDRESS = ("street", "city", "state", "zip")
"""The address of record as filed, for disclosure under the address_of_record profile."""

_PERSON_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(("tin", *COMPARABLE_COLUMNS, *PAIR_CONTEXT_COLUMNS, *RECORD_ADDRESS))
)

U64 = npt.NDArray[np.uint64]


_M = 0xD6E8FEB86659FD93
_MASK = (1 << 64) - 1
_SEED = 0xE17A1465
_LENGTH = 0xC6A4A7935BD1E995
_NULL_HASH = 0xBF58476D1CE4E5B9


def _murmur64(x: int) -> int:
    x ^= x >> 32
    x = (x * _M) & _MASK
    x ^= x >> 32
    x = (x * _M) & _MASK
    return x ^ (x >> 32)


def _text_hash(part: str | None) -> int:
    """DuckDB's ``hash`` of one VARCHAR: its bytes in 8-byte little-endian words, the last zero-padded."""
    if part is None:
        return _NULL_HASH
    data = part.encode()
    h = _SEED ^ ((len(data) * _LENGTH) & _MASK)
    padded = data + b"\0" * (-len(data) % 8)
    for word in struct.unpack(f"<{len(padded) // 8}Q", padded):
        h = ((h ^ word) * _M) & _MASK
    return _murmur64(h)


def python_key_hash(parts: Sequence[str | None]) -> int:
    """DuckDB's ``hash(a, b, c)`` of VARCHAR parts, computed in Python (``KeyHasher`` checks it)."""
    h = _text_hash(parts[0])
    for part in parts[1:]:
        h = (((h ^ (h >> 32)) * _M) & _MASK) ^ _text_hash(part)
    return h


def _probe_keys() -> list[list[str | None]]:
    """Keys that exercise every branch of the hash: lengths 0 to 40, non-ASCII text, NULL parts."""
    rng = random.Random(20261204)
    alphabet = "ABCXYZ019 -'ÑÉü"
    texts = ["", "A", "ABCDEFG", "ABCDEFGH", "ABCDEFGHI", "O'NEIL-MUÑOZ", "1980-01-02"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(60)]
    keys: list[list[str | None]] = [[t, None, None] for t in texts]
    keys += [[rng.choice(texts), rng.choice([*texts, None]), rng.choice([*texts, None])] for _ in range(120)]
    return keys


class KeyHasher:
    """Hashes request-side keys exactly as ``write_online_tables`` hashed the index side.

    The hash is DuckDB's own ``hash`` over VARCHAR parts (``KEY_ARITY`` of them, NULL-padded).
    Each part is written as DuckDB casts it to VARCHAR (dates as YYYY-MM-DD, integers in
    decimal). The hash is computed in Python (``python_key_hash``, a few microseconds a
    key), which the hasher first checks against this DuckDB on probe keys that take every
    branch of the function: if any differs (a DuckDB release changed ``hash``), it asks
    DuckDB instead, one query per call (about 1 ms, most of a small group's candidate
    retrieval). ``md5`` of the joined text, hashed in Python, cost 10.8 s of a 1M-person
    master load against 3.2 s for ``hash`` (measured 2026-12-03).
    """

    _SQL = (
        "SELECT hash(a, b, c) FROM (SELECT unnest(?::VARCHAR[]) AS a, "
        "unnest(?::VARCHAR[]) AS b, unnest(?::VARCHAR[]) AS c)"
    )

    def __init__(self, *, in_python: bool = True) -> None:
        self._con = duckdb.connect()
        self._lock = threading.Lock()
        probes = _probe_keys()
        agrees = [python_key_hash(k) for k in probes] == self._duckdb_hashes(probes)
        self.in_python = in_python and agrees
        """Whether keys are hashed in Python: asked for (the default), and the twin agreed on every probe."""

    def hashes(self, keys: Sequence[Sequence[object]]) -> list[int]:
        """The 64-bit hash of each key (at most ``KEY_ARITY`` parts, none of them NULL)."""
        if not keys:
            return []
        parts: list[list[str | None]] = []
        for key in keys:
            if len(key) > KEY_ARITY:
                raise ValueError(f"a key of {len(key)} parts; at most {KEY_ARITY} are supported")
            parts.append([None if i >= len(key) or key[i] is None else str(key[i]) for i in range(KEY_ARITY)])
        if self.in_python:
            return [python_key_hash(p) for p in parts]
        return self._duckdb_hashes(parts)

    def _duckdb_hashes(self, parts: Sequence[Sequence[str | None]]) -> list[int]:
        columns = [list(column) for column in zip(*parts, strict=True)]
        with self._lock:
            rows = self._con.execute(self._SQL, columns).fetchall()
        return [int(h) for (h,) in rows]


def write_online_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Write the online tables into an index being built; returns how many keys were stored.

    Reads the index's ``persons``, ``addresses``, blocking, term-frequency and
    ``oversized_*`` tables, so it runs after they are written. The person and address
    rows are stored in no particular order: the matcher sorts them by pid as it loads them
    (sorting here too cost about 0.8 s at 1M persons for nothing).
    """
    person_cols = ", ".join(f"p.{c}" for c in _PERSON_COLUMNS)
    con.execute(
        f"""
        CREATE TABLE online_persons AS
        -- one id per address of record small enough to be a household (tf_addr has one row
        -- per address): the window runs over the narrow table, not the wide person rows
        WITH households AS (
          SELECT addr_key, tf, CASE WHEN n <= ? THEN row_number() OVER (ORDER BY n <= ?, addr_key) END
                 AS household
          FROM tf_addr)
        SELECT p.pid, {person_cols}, f.tf AS tf_first, s.tf AS tf_last, a.tf AS tf_addr, a.household
        FROM persons p
        LEFT JOIN tf_first f ON f.first_tok = p.first_tok
        LEFT JOIN tf_last s ON s.last_concat = p.last_concat
        LEFT JOIN households a ON a.addr_key = p.addr_key
        """,
        [HOUSEHOLD_LIMIT, HOUSEHOLD_LIMIT],
    )
    con.execute(
        f"""
        CREATE TABLE online_addresses AS
        SELECT a.pid, {", ".join(f"a.{c}" for c in ADDRESS_FIELDS)}
        FROM addresses a
        """
    )
    selects = []
    for number, rule in enumerate(RULES):
        if stored_rule(number) != number:
            continue
        index_where, _ = index_side(rule.where)
        on_big = " AND ".join(f"m.{k} = x.{k}" for k in rule.keys)
        present = " AND ".join(
            [*(f"m.{k} IS NOT NULL" for k in rule.keys), *([index_where] if index_where else [])]
        )
        selects.append(
            f"""
            SELECT {number}::SMALLINT AS rule, {key_hash_sql(rule.keys)} AS h, m.pid
            FROM (SELECT * FROM {rule.index_table} m ANTI JOIN oversized_{rule.name} x ON {on_big}) m
            WHERE {present}"""
        )
    # one rule at a time, each sorted on its own: one sort of every rule's keys together ran
    # out of DuckDB's memory limit at 10M persons (~180M keys)
    con.execute("CREATE TABLE online_keys (rule SMALLINT, h UBIGINT, pid INTEGER)")
    for select_rule in selects:
        con.execute(f"INSERT INTO online_keys SELECT * FROM ({select_rule}) ORDER BY ALL")
    (stored,) = con.execute("SELECT count(*) FROM online_keys").fetchall()[0]
    con.execute(
        "CREATE TABLE online_meta AS SELECT ?::INTEGER AS format, ?::INTEGER AS rules, "
        "?::INTEGER AS household_limit, ?::UBIGINT AS canary",
        [ONLINE_FORMAT, len(RULES), HOUSEHOLD_LIMIT, canary_hash(con)],
    )
    return int(stored)


def has_online_tables(index_path: Path) -> bool:
    """Whether the matching index at ``index_path`` holds the online tables (any format version)."""
    con = duckdb.connect(str(index_path), read_only=True)
    try:
        return has_online_meta(con)
    finally:
        con.close()


class OnlineMatcher:
    """Decides single subjects against the matching index with the batch path's rules.

    Open once per process (``OnlineMatcher.open``); ``decide_one`` is thread-safe: the
    loaded arrays are only read.
    """

    def __init__(self, index_path: Path, config: LinkageConfig) -> None:
        if not index_path.exists():
            raise StoreError(f"no matching index at {index_path}: run `custodes master load FILE` first")
        self.config = config
        self.hasher = KeyHasher()
        con = duckdb.connect(str(index_path), read_only=True)
        try:
            con.execute("SET enable_progress_bar = false")
            self._check_format(con, index_path, self.hasher)
            self.model: ModelParameters = load_parameters(con)
            self._known_first = frozenset(
                query_frame(con, "SELECT first_tok FROM known_first")["first_tok"].to_list()
            )
            self._load_keys(con)
            # one chunk each: polars gathers from a chunked frame in time linear in its length
            self._persons = query_frame(con, "SELECT * FROM online_persons ORDER BY pid").rechunk()
            addresses = query_frame(con, "SELECT * FROM online_addresses ORDER BY pid").rechunk()
        finally:
            con.close()
        # pids number the taxpayers chunk after chunk, not in TIN order: a TIN is found
        # through the TINs sorted, with the row each sorted position came from
        self._tin_rows = self._persons["tin"].arg_sort()
        self._tins_sorted = self._persons["tin"].gather(self._tin_rows)
        pids = addresses["pid"].to_numpy()
        self._addresses = addresses.drop("pid")
        self._addr_start = np.searchsorted(pids, np.arange(self._persons.height + 1))
        household = self._persons["household"].fill_null(-1).to_numpy().astype(np.int64)
        members = np.flatnonzero(household >= 0)
        order = members[np.argsort(household[members], kind="stable")]
        self._household = household
        self._household_members = order
        self._household_keys = household[order]
        # the known-name tables are joined as kr (request) and km (candidate), as in pair_levels_sql
        self._levels = [(c.name, compile_sql(c.sql, ("r", "m", "kr", "km"))) for c in NAME_COMPARISONS]
        self._address_level = compile_sql(address_level_sql("r", "a"), ("r", "a"))
        self._pair_filter = compile_sql(PAIR_FILTER)
        # the few columns the pair filter reads: a candidate it drops is never converted whole;
        # and of one it keeps, only what its levels and the decision read
        self._filter_persons = self._persons.select(columns_of(PAIR_FILTER, "m"))
        compared = [m for c in NAME_COMPARISONS for m in columns_of(c.sql, "m")]
        read = ["tin", "first_tok", *compared, *PAIR_CONTEXT_COLUMNS, "tf_first", "tf_last", "tf_addr"]
        self._compared_persons = self._persons.select(list(dict.fromkeys(read)))
        self._levels_schema = pl.Schema(
            {  # type: ignore[arg-type] # polars' stubs do not accept a DataType read from a schema
                "rid": pl.Int64,
                "tin": pl.Utf8,
                **{f"c_{name}": pl.Int32 for name, _ in self._levels},
                "c_address": pl.Int32,
                "r_suffix": pl.Utf8,
                **{f"m_{c}": self._persons.schema[c] for c in PAIR_CONTEXT_COLUMNS},
                "tf_first": pl.Float64,
                "tf_last": pl.Float64,
                "tf_addr": pl.Float64,
            }
        )
        self._request_filters = {
            number: [compile_sql(t, ("r",)) for t in index_side(rule.where)[1]]
            for number, rule in enumerate(RULES)
        }

    @classmethod
    def open(cls, settings: Settings) -> OnlineMatcher:
        """The matcher over the settings' matching index (load once per process)."""
        return cls(settings.index_path, settings.linkage)

    @staticmethod
    def _check_format(con: duckdb.DuckDBPyConnection, path: Path, hasher: KeyHasher) -> None:
        check_online_tables(con, path, hasher.hashes([CANARY_KEY])[0])

    def _load_keys(self, con: duckdb.DuckDBPyConnection) -> None:
        keys = query_frame(con, "SELECT rule, h, pid FROM online_keys ORDER BY rule, h, pid")
        rule = keys["rule"].to_numpy()
        self._key_hash: U64 = keys["h"].to_numpy()
        self._key_pid: npt.NDArray[np.int32] = keys["pid"].to_numpy()
        self._rule_span = np.searchsorted(rule, np.arange(len(RULES) + 1))
        self.keys = keys.height

    # -- retrieval ------------------------------------------------------------------------
    def _lookup(self, number: int, hashes: Sequence[int]) -> list[npt.NDArray[np.int32]]:
        """The person ids stored under each key hash of rule ``number``."""
        stored = stored_rule(number)
        lo, hi = self._rule_span[stored], self._rule_span[stored + 1]
        table = self._key_hash[lo:hi]
        wanted = np.asarray(hashes, dtype=np.uint64)
        first = np.searchsorted(table, wanted, "left")
        last = np.searchsorted(table, wanted, "right")
        return [self._key_pid[lo + a : lo + b] for a, b in zip(first.tolist(), last.tolist(), strict=True)]

    def candidates(self, prepared: pl.DataFrame | Sequence[Mapping[str, Any]]) -> dict[int, set[int]]:
        """Person ids the blocking rules and co-residence bring to each prepared request (by rid).

        ``prepared`` is the prepared frame or its rows (``DataFrame.to_dicts``).
        """
        rows = prepared.to_dicts() if isinstance(prepared, pl.DataFrame) else prepared
        tables = request_rows(rows)
        found: dict[int, set[int]] = {row["rid"]: set() for row in rows}
        wanted: list[tuple[int, int, list[object]]] = []
        for number, rule in enumerate(RULES):
            filters = self._request_filters[number]
            for row in tables[rule.request_table]:
                values = [row[k] for k in rule.keys]
                if any(v is None for v in values) or any(f(row) is not True for f in filters):
                    continue
                wanted.append((number, row["rid"], values))
        hashes = self.hasher.hashes([values for _, _, values in wanted])
        by_rule: dict[int, list[tuple[int, int]]] = {}
        for (number, rid, _), h in zip(wanted, hashes, strict=True):
            by_rule.setdefault(number, []).append((rid, h))
        for number, keyed in by_rule.items():
            hits = self._lookup(number, [h for _, h in keyed])
            for (rid, _), hit in zip(keyed, hits, strict=True):
                found[rid].update(hit.tolist())
        for pids in found.values():
            groups = {int(g) for g in self._household[list(pids)] if g >= 0} if pids else set()
            if groups:
                keys = np.fromiter(groups, dtype=np.int64)
                first = np.searchsorted(self._household_keys, keys, "left")
                last = np.searchsorted(self._household_keys, keys, "right")
                for a, b in zip(first.tolist(), last.tolist(), strict=True):
                    pids.update(self._household_members[a:b].tolist())
        return found

    # -- comparison and decision ----------------------------------------------------------
    def candidate_levels(self, prepared: pl.DataFrame) -> pl.DataFrame:
        """The batch path's levels frame (``pair_levels_sql`` + term frequencies), for every request."""
        return pl.DataFrame(
            self.candidate_rows(prepared.to_dicts()), schema=self._levels_schema, orient="row"
        )

    def candidate_rows(self, prepared: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``candidate_levels``' rows as Python values, from the prepared rows (``DataFrame.to_dicts``)."""
        found = self.candidates(prepared)
        requests = {r["rid"]: r for r in prepared}
        pairs = [(rid, pid) for rid in sorted(found) for pid in sorted(found[rid])]
        if pairs:
            narrow = self._filter_persons[[pid for _, pid in pairs]].to_dicts()
            kept = zip(pairs, narrow, strict=True)
            pairs = [pair for pair, m in kept if self._pair_filter(requests[pair[0]], m) is True]
        pids = [pid for _, pid in pairs]
        people = self._compared_persons[pids].to_dicts() if pids else []
        spans = [(int(self._addr_start[p]), int(self._addr_start[p + 1])) for p in pids]
        addresses = self._addresses[[i for a, b in spans for i in range(a, b)]].to_dicts() if pids else []
        rows: list[dict[str, Any]] = []
        offset = 0
        for (rid, _), m, (a, b) in zip(pairs, people, spans, strict=True):
            mine = addresses[offset : offset + b - a]
            offset += b - a
            request = requests[rid]
            kr, km = self._known(request), self._known(m)
            row: dict[str, Any] = {"rid": rid, "tin": m["tin"]}
            for name, level in self._levels:
                row[f"c_{name}"] = level(request, m, kr, km)
            levels = [v for v in (self._address_level(request, x) for x in mine) if v is not None]
            row["c_address"] = max(levels, default=0)
            row["r_suffix"] = request["suffix"]
            row.update({f"m_{c}": m[c] for c in PAIR_CONTEXT_COLUMNS})
            row.update({"tf_first": m["tf_first"], "tf_last": m["tf_last"], "tf_addr": m["tf_addr"]})
            rows.append(row)
        return rows

    def _known(self, person: Mapping[str, Any]) -> dict[str, Any]:
        """The ``known_first`` row a person's first name joins to (all NULL when it is no known name)."""
        first = person["first_tok"]
        return {"first_tok": first if first in self._known_first else None}

    def decide_prepared(self, prepared: pl.DataFrame) -> pl.DataFrame:
        """Decisions (rid, outcome, reason, tin, match_probability, address_status) for prepared requests."""
        model = self.model
        rows = self.candidate_rows(prepared.to_dicts())
        if len(rows) <= SMALL_SCORED and prepared.height <= SMALL_SCORED:
            # a few rows: the same score and rule on Python values (tests/link/test_decide.py)
            decided = decide_rows(
                rows, prepared["rid"], model.m, model.u, taxpayers=model.taxpayers,
                prior=self.config.prior_on_file, config=self.config,
            )  # fmt: skip
            if decided is not None:
                return decided
        levels = pl.DataFrame(rows, schema=self._levels_schema, orient="row")
        scored = score_candidates(
            levels, model.m, model.u, taxpayers=model.taxpayers, prior=self.config.prior_on_file
        )
        return decide_outcomes(scored, prepared["rid"], self.config)

    def decide(self, requests: pl.DataFrame, *, today: date | None = None) -> pl.DataFrame:
        """Decide every request of ``requests`` (an ``rid`` column plus person fields + tin)."""
        prepared = prepare_people(requests, today=today or datetime.now(UTC).date())
        return self.decide_prepared(prepared)

    def decide_one(self, subject: Mapping[str, object], *, today: date | None = None) -> dict[str, Any]:
        """Decide one subject (the contract's person fields and tin; others are ignored).

        Returns the batch decision columns: request_id, outcome, reason, tin,
        match_probability, address_status. The subject's legal elements are not checked
        here: the Gateway refuses a subject before it reaches the matcher.
        """
        frame = subjects_frame([subject])
        people = frame.select(pl.lit(0, pl.Int64).alias("rid"), *PERSON_FIELDS, "tin")
        row = self.decide(people, today=today).row(0, named=True)
        return {
            "request_id": frame["request_id"][0],
            **{k: row[k] for k in ("outcome", "reason", "tin", "match_probability", "address_status")},
        }

    def address_of_record(self, tin: str) -> dict[str, str | None]:
        """The filed address of record of a taxpayer on file (``RECORD_ADDRESS`` columns)."""
        tins = self._tins_sorted
        at = int(tins.search_sorted(tin))
        if at >= tins.len() or tins[at] != tin:
            raise StoreError(
                "a matched taxpayer is missing from the matching index: run `custodes master load`"
            )
        return self._persons[int(self._tin_rows[at])].select(RECORD_ADDRESS).row(0, named=True)
