"""Bulk inserts store exactly what SQLAlchemy's own insert stores, on both stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import DBAPIError

from custodes.oversight.tables import budget_keys, budget_queries
from custodes.store import connect, upgrade
from custodes.store.bulk import CHUNK, JSON_MIN_ROWS, _json_plan, bulk_insert
from custodes.store.schema import batches, decisions

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
TIN = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=9)


def _batch(conn: Connection, batch_id: str) -> int:
    pk = conn.execute(
        insert(batches).values(
            batch_id=batch_id, agency="A", legal_basis="B", status="decided", manifest_json="{}",
            manifest_sha256="0" * 64, requests_sha256="0" * 64, record_count=0, received_at=AT,
            completed_at=AT,
        )
    ).inserted_primary_key  # fmt: skip
    assert pk is not None
    return int(pk[0])


def _queries(n: int, at: datetime) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "agency": ["Department of Homeland Security"] * n,
            "batch_id": ["B'1; DROP TABLE x--"] * n,
            "row_number": list(range(1, n + 1)),
            "request_id": [f"R{i}\t\u00e9" for i in range(n)],
            "requested_at": [at + timedelta(seconds=i) for i in range(n)],
            "subject_keys": [f"{-(2**63) + i} {2**63 - 1 - i}" for i in range(n)],
            "status": ["counted"] * n,
            "budget": [None if i % 2 else "subject" for i in range(n)],
        }
    )


def _read(conn: Connection, table: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]  # type: ignore[attr-defined]


def test_bulk_insert_reads_back_as_sqlalchemy_insert_does(store_url: str) -> None:
    upgrade(store_url)
    engine = connect(store_url)
    frame = _queries(CHUNK + 7, AT)  # more than one chunk
    try:
        with engine.begin() as conn:
            conn.execute(insert(budget_queries), frame.to_dicts())
            expected = _read(conn, budget_queries)
            conn.execute(delete(budget_queries))
            bulk_insert(conn, budget_queries, frame)
            assert _read(conn, budget_queries) == expected
            stored = expected[0][4]
            assert isinstance(stored, datetime)
            assert stored.replace(tzinfo=stored.tzinfo or UTC) == AT, "the instant reads back equal"
            keys = pl.DataFrame(
                {"agency": ["A", "A"], "subject_key": [-(2**63), 2**63 - 1], "batch_id": ["B", "B"],
                 "row_number": [1, 2]}
            )  # fmt: skip
            bulk_insert(conn, budget_keys, keys)
            assert [r[1] for r in _read(conn, budget_keys)] == [-(2**63), 2**63 - 1]
    finally:
        engine.dispose()


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(TEXT, st.none() | TIN, st.none() | st.floats(allow_nan=False)), max_size=20))
def test_any_text_and_floats_round_trip_like_insert(
    store_url: str, rows: list[tuple[str, str | None, float | None]]
) -> None:
    upgrade(store_url)
    engine = connect(store_url)
    try:
        with engine.begin() as conn:
            one, two = _batch(conn, uuid.uuid4().hex), _batch(conn, uuid.uuid4().hex)
            unique = list({r[0]: r for r in rows}.values())
            frame = pl.DataFrame(
                {
                    "request_id": [r[0] for r in unique],
                    "outcome": ["match"] * len(unique),
                    "reason": [r[1] or "" for r in unique],
                    "tin": [r[1] for r in unique],
                    "match_probability": [r[2] for r in unique],
                    "response_sha256": ["f" * 64] * len(unique),
                },
                schema={
                    "request_id": pl.Utf8, "outcome": pl.Utf8, "reason": pl.Utf8, "tin": pl.Utf8,
                    "match_probability": pl.Float64, "response_sha256": pl.Utf8,
                },
            )  # fmt: skip
            if unique:
                conn.execute(insert(decisions), frame.with_columns(pl.lit(one).alias("batch_pk")).to_dicts())
            bulk_insert(conn, decisions, frame.with_columns(pl.lit(two).alias("batch_pk")))
            got = {pk: [r[1:] for r in _read(conn, decisions) if r[0] == pk] for pk in (one, two)}
            assert got[one] == got[two]
            assert len(got[two]) == len(unique)
    finally:
        engine.dispose()


def test_a_constraint_violation_is_sqlalchemys_error_and_rolls_back(store_url: str) -> None:
    upgrade(store_url)
    engine = connect(store_url)
    frame = _queries(3, AT)
    try:
        with pytest.raises(DBAPIError), engine.begin() as conn:
            bulk_insert(conn, budget_queries, pl.concat([frame, frame]))  # the same keys twice
        with engine.connect() as conn:
            assert _read(conn, budget_queries) == []
        with engine.begin() as conn:
            bulk_insert(conn, budget_queries, frame.clear())  # nothing to do
            with pytest.raises(KeyError):
                bulk_insert(conn, budget_queries, frame.with_columns(pl.lit(1).alias("no_such_column")))
    finally:
        engine.dispose()


def _budget_keys(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "agency": ["A"] * n,
            "subject_key": [(-(2**63) + i) if i % 2 else (2**63 - 1 - i) for i in range(n)],
            "batch_id": [f"B\u00e9'{i % 3}\n--" for i in range(n)],
            "row_number": list(range(n)),
        }
    )


@pytest.mark.parametrize("rows", [JSON_MIN_ROWS - 1, JSON_MIN_ROWS, CHUNK + 7])
def test_integer_and_text_frames_read_back_as_insert_does_on_every_path(store_url: str, rows: int) -> None:
    """Constant datetimes, 64-bit extremes, quotes, newlines and non-ASCII text: equal to insert()."""
    upgrade(store_url)
    engine = connect(store_url)
    queries = _queries(rows, AT).with_columns(pl.lit(AT).alias("requested_at"))  # one instant: bound once
    keys = _budget_keys(rows)
    try:
        with engine.begin() as conn:
            for table, frame in ((budget_queries, queries), (budget_keys, keys)):
                conn.execute(insert(table), frame.to_dicts())
                expected = _read(conn, table)
                conn.execute(delete(table))
                bulk_insert(conn, table, frame)
                assert _read(conn, table) == expected
                assert len(expected) == rows
    finally:
        engine.dispose()


def test_the_json_path_is_taken_only_where_it_reads_back_exactly() -> None:
    frame = _budget_keys(JSON_MIN_ROWS)
    plain = [None] * frame.width
    plan = _json_plan(frame, plain)
    assert plan == [("bound", "A"), ("json", "subject_key"), ("json", "batch_id"), ("json", "row_number")]
    assert _json_plan(frame.head(JSON_MIN_ROWS - 1), plain) is None, "small frames: executemany"
    with_nul = frame.with_columns(pl.format("{}\x00", "batch_id").alias("batch_id"))
    assert _json_plan(with_nul, plain) is None, "a NUL in text: executemany"
    floats = frame.with_columns(pl.col("row_number").cast(pl.Float64))
    assert _json_plan(floats, plain) is None, "floats must round exactly: executemany"
    wide = frame.with_columns(pl.format("{}", "row_number").alias("agency"))
    assert _json_plan(wide, plain) is None, "four varying columns: executemany"
    processed = _json_plan(frame, [None, str, None, None])
    assert processed is None, "a varying column with a bind processor: executemany"
    constants = _json_plan(frame, [lambda v: f"<{v}>", None, None, None])
    assert constants is not None
    assert constants[0] == ("bound", "<A>"), "a constant goes through its processor"
