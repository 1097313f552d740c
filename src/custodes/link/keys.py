"""The online tables' blocking keys, which the batch and online paths both look up.

``custodes master load`` writes, inside the matching index, one table of (rule, 64-bit key
hash, person) for every blocking rule of ``custodes.link.blocking.RULES``
(``online.write_online_tables``), and one row per taxpayer with the columns the comparisons
read and a household number (``online_persons``). Both paths find candidates there:

- **online**, by binary search in arrays loaded once per process (``online.OnlineMatcher``);
- **batch**, by one join of the requests' key hashes with ``online_keys`` in DuckDB
  (``request_keys_sql``, used by ``engines.duckdb.DuckDBLinker``).

The rules' joins on the index tables themselves (``blocking.candidate_pairs_sql``) are the
definition; ``tests/link/test_index.py`` holds the keyed lookup to the same pairs. A hash
collision can only add a candidate (compared in full like any other), never lose one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import duckdb

from custodes.errors import StoreError
from custodes.link.blocking import RULES
from custodes.link.pysql import aliases_of, split_conjuncts
from custodes.link.sql import table_names

ONLINE_FORMAT = 3
"""Version of the online tables' layout; a different version needs a new ``master load``."""

HOUSEHOLD_LIMIT = 30
"""Co-residents of a candidate are added as rivals, for addresses with at most this many."""

KEY_ARITY = 3
"""Every compound key is hashed as this many VARCHAR parts, the missing ones NULL."""
CANARY_KEY = ("CUSTODES", "1980-01-02")
"""A key hashed at master load and again when the index is opened: a different DuckDB hash
function (a new DuckDB release) would lose every candidate, so it is refused instead."""


def key_hash_sql(keys: Sequence[str], alias: str = "m") -> str:
    """DuckDB's ``hash`` of a key's parts (columns of ``alias``) cast to VARCHAR, padded with NULL."""
    parts = [f"CAST({alias}.{k} AS VARCHAR)" for k in keys]
    parts += ["NULL::VARCHAR"] * (KEY_ARITY - len(parts))
    return f"hash({', '.join(parts)})"


def canary_hash(con: duckdb.DuckDBPyConnection) -> int:
    """``CANARY_KEY`` hashed by the DuckDB of ``con`` as the index side hashes keys."""
    parts = [f"'{v}'::VARCHAR" for v in CANARY_KEY] + ["NULL::VARCHAR"] * (KEY_ARITY - len(CANARY_KEY))
    (value,) = con.execute(f"SELECT hash({', '.join(parts)})").fetchall()[0]
    return int(value)


def index_side(where: str) -> tuple[str, list[str]]:
    """Split a rule's ``where`` into the index-side SQL (alias m) and the request-side terms."""
    if not where:
        return "", []
    index_terms, request_terms = [], []
    for term in split_conjuncts(where):
        used = aliases_of(term)
        if used == {"m"}:
            index_terms.append(term)
        elif used == {"r"}:
            request_terms.append(term)
        else:
            raise StoreError(f"blocking condition {term!r} relates request and index: not supported online")
    return " AND ".join(index_terms), request_terms


@cache
def stored_rule(number: int) -> int:
    """The rule whose online keys rule ``number`` reads: the first with the same index side.

    Rules that differ only on the request side (``swapped_dob`` reads ``surname_dob``'s
    keys) store their keys once.
    """
    rule = RULES[number]
    side = (rule.index_table, rule.keys, index_side(rule.where)[0])
    return next(n for n, r in enumerate(RULES) if (r.index_table, r.keys, index_side(r.where)[0]) == side)


def request_keys_sql() -> str:
    """(rid, rule, h): every blocking key of the request tables (``engines.duckdb.request_tables``),
    hashed as ``online_keys`` holds the index side, under the rule that stored them.

    A key with a NULL part, or a request failing its rule's request-side condition, gives no
    row, as the rule's join would give no pair.
    """
    selects = []
    for number, rule in enumerate(RULES):
        _, request_terms = index_side(rule.where)
        present = " AND ".join([*(f"r.{k} IS NOT NULL" for k in rule.keys), *request_terms])
        selects.append(
            f"SELECT r.rid, {stored_rule(number)}::SMALLINT AS rule, {key_hash_sql(rule.keys, 'r')} AS h "
            f"FROM {rule.request_table} r WHERE {present}"
        )
    return "\nUNION ALL\n".join(selects)


def keyed_hits_sql() -> str:
    """Distinct (rid, pid): the index persons whose stored keys equal a request's (every rule)."""
    return f"""
        SELECT DISTINCT k.rid, o.pid
        FROM ({request_keys_sql()}) k
        JOIN online_keys o ON o.rule = k.rule AND o.h = k.h"""


def has_online_meta(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the open index holds the online tables (any format version)."""
    return "online_meta" in table_names(con)


def check_online_tables(con: duckdb.DuckDBPyConnection, path: Path, canary: int) -> None:
    """Refuse an index whose online tables are missing or were written for other rules.

    ``canary`` is ``CANARY_KEY`` hashed as the reader will hash request keys; it must equal
    the hash stored at master load, or every lookup would miss.
    """
    if not has_online_meta(con):
        raise StoreError(
            f"the matching index at {path} has no online tables (built by an older custodes): "
            "run `custodes master load FILE` again"
        )
    ((fmt, rules, household_limit, stored),) = con.execute(
        "SELECT format, rules, household_limit, canary FROM online_meta"
    ).fetchall()
    if (fmt, rules, household_limit) != (ONLINE_FORMAT, len(RULES), HOUSEHOLD_LIMIT):
        raise StoreError(
            f"the online tables in {path} were built for format {fmt}, {rules} blocking rules and "
            f"households of up to {household_limit}; this custodes has format {ONLINE_FORMAT}, "
            f"{len(RULES)} rules and {HOUSEHOLD_LIMIT}: run `custodes master load FILE` again"
        )
    if int(stored) != canary:
        raise StoreError(
            f"the online tables in {path} were hashed by a DuckDB whose hash function differs "
            f"from this one's (DuckDB {duckdb.__version__}): run `custodes master load FILE` again"
        )
