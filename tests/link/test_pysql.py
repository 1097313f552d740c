"""The comparison SQL executed in Python gives DuckDB's answers, NULLs included."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from custodes.link.pysql import UnsupportedSQLError, aliases_of, compile_sql, split_conjuncts

EXPRESSIONS = [
    "r.a = m.a",
    "r.a <> m.a OR r.b IS NULL",
    "NOT (r.a = m.a) AND m.b IS NULL",
    "CASE WHEN r.a IS NULL THEN 0 WHEN r.a = m.a THEN 2 ELSE 1 END",
    "length(r.a) - 1",
    "substr(r.a, 2, 2)",
    "left(r.a, 2) = left(m.a, 2)",
    "right(r.a, 1)",
    "starts_with(r.a, m.a)",
    "ends_with(r.a, m.a)",
    "split_part(r.a, 'N', 2)",
    "split_part(r.a, 'N', 3) = split_part(m.a, 'N', 4)",
    "split_part(r.a, '', 1)",
    "abs(length(r.a) - length(m.a)) = 1",
    "least(length(r.a), length(m.a))",
    "r.a IN ('ANNA', 'BO')",
    "jaro_winkler_similarity(r.a, m.a) >= 0.88",
    "list_sort([right(r.a, 1), right(m.a, 1)]) = ['A', 'O']",
]
VALUES = [None, "ANNA", "ANA", "BO", "A", "ANNO"]


@pytest.mark.parametrize("sql", EXPRESSIONS)
def test_each_construct_agrees_with_duckdb_on_every_pair_of_values(sql: str) -> None:
    compiled = compile_sql(sql)
    con = duckdb.connect()
    for a, b in itertools.product(VALUES, repeat=2):
        r, m = {"a": a, "b": b}, {"a": b, "b": a}
        (expected,) = con.execute(
            f"SELECT {sql} FROM (SELECT ?::VARCHAR AS a, ?::VARCHAR AS b) r, (SELECT ?::VARCHAR AS a, ?::VARCHAR AS b) m",
            [a, b, b, a],
        ).fetchall()[0]
        assert compiled(r, m) == expected, (sql, a, b)


def test_lists_index_from_one_as_in_duckdb() -> None:
    first = compile_sql("r.tokens[1]", ("r",))
    assert first({"tokens": ["GARCIA", "LOPEZ"]}) == "GARCIA"
    assert first({"tokens": []}) is None
    assert compile_sql("list_has_any(r.x, m.x)")({"x": ["A"]}, {"x": ["B", "A"]}) is True
    assert compile_sql("list_contains(r.x, m.y)")({"x": ["A"]}, {"y": None}) is None


def test_what_cannot_be_translated_is_refused_when_compiled() -> None:
    with pytest.raises(UnsupportedSQLError, match="not supported"):
        compile_sql("regexp_matches(r.a, 'x')")
    with pytest.raises(UnsupportedSQLError, match="aliases"):
        compile_sql("q.a = 1")


def test_conditions_split_into_terms_and_their_aliases() -> None:
    assert split_conjuncts("r.house IS NULL AND m.house IS NULL") == ["r.house IS NULL", "m.house IS NULL"]
    assert aliases_of("r.a = m.b") == {"r", "m"}


def test_similar_first_names_never_ask_hamming_of_unequal_lengths() -> None:
    # DuckDB's AND does not guard evaluation, and hamming errs on strings of unequal
    # length: the first-name rule must hold on every pair of lengths, on DuckDB and here
    import duckdb

    from custodes.link.comparisons import SIMILAR_NAMES

    names = ["MIE", "MEI", "MEIX", "PAUL", "PAKL", "PAULA", "JO", "JON", "TOBY", "TOBT", "A", None]
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT r.first_tok, m.first_tok, {SIMILAR_NAMES} FROM (SELECT unnest(?) AS first_tok) r, "
            "(SELECT unnest(?) AS first_tok) m",
            [names, names],
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == len(names) ** 2
    compiled = compile_sql(SIMILAR_NAMES)
    for left, right, similar in rows:
        assert compiled({"first_tok": left}, {"first_tok": right}) == similar, (left, right)
    by_pair = {(a, b): s for a, b, s in rows}
    assert by_pair["MIE", "MEI"] is True  # two adjacent letters swapped
    assert by_pair["PAKL", "PAUL"] is True
    assert by_pair["JO", "TOBY"] is False
