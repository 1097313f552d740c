"""Several batches stored at once are stored exactly as one after another, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Connection, select

from custodes.store import connect, records, upgrade
from custodes.store.records import REQUEST_FIELDS, NewBatch, record_batch, record_batches
from custodes.store.schema import batches, decisions, requests

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _request_rows(n: int, tag: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row_number": [1] * n,
            **{f: [f"{tag}-{f}-{i}'; --" for i in range(n)] for f in REQUEST_FIELDS},
        }
    ).with_columns(pl.lit(None, pl.Utf8).alias("middle_name"))


def _decision_rows(n: int, tag: str) -> pl.DataFrame:
    kinds = [("match", "match"), ("no_match", "no_candidate"), ("refused", "invalid_tin")]
    return pl.DataFrame(
        {
            "request_id": [f"{tag}-request_id-{i}'; --" for i in range(n)],
            "outcome": [kinds[i % 3][0] for i in range(n)],
            "reason": [kinds[i % 3][1] for i in range(n)],
            "tin": [f"00000000{i}" if i % 3 == 0 else None for i in range(n)],
            "match_probability": [0.999 if i % 3 == 0 else None for i in range(n)],
            "address_status": ["current" if i % 3 == 0 else None for i in range(n)],
            "response_sha256": [f"{i:064x}" for i in range(n)],
        },
        schema_overrides={"outcome": pl.Utf8, "reason": pl.Utf8, "tin": pl.Utf8, "address_status": pl.Utf8},
    )


def _head(tag: str, i: int, *, workflow: dict[str, object] | None) -> NewBatch:
    return NewBatch(
        batch_id=f"{tag}-{i}", agency="Department of Homeland Security", legal_basis="written_request",
        manifest_json='{"x": 1}', manifest_sha256=f"{i:064x}", requests_sha256=f"{i + 1:064x}",
        record_count=1, batch_reason=None if i % 2 else "basis_suspended",
        received_at=AT + timedelta(milliseconds=i), completed_at=AT + timedelta(seconds=1),
        status="released", workflow=workflow,
    )  # fmt: skip


def _workflow(tag: str, i: int) -> dict[str, object] | None:
    return None if i % 3 == 0 else {"submitted_by": f"key-{i}", "public_id": f"{tag}-p-{i}"}


def _stored(conn: Connection, tag: str) -> list[tuple[object, ...]]:
    """Every stored row of the batches tagged ``tag``, with the batch's id as the key's stand-in."""
    heads = conn.execute(
        select(batches).where(batches.c.batch_id.like(f"{tag}-%")).order_by(batches.c.id)
    ).all()
    out: list[tuple[object, ...]] = []
    for head in heads:
        values = head._mapping
        out.append(("batch", *(values[c.name] for c in batches.c if c.name != "id")))
        for table in (requests, decisions):
            for row in conn.execute(select(table).where(table.c.batch_pk == values["id"])).all():
                out.append(
                    (
                        table.name,
                        head.batch_id,
                        *(v for k, v in row._mapping.items() if k not in {"id", "batch_pk"}),
                    )
                )
    return [tuple(str(v).replace(tag, "T") for v in row) for row in out]


def test_record_batches_stores_what_record_batch_stores_one_by_one(store_url: str) -> None:
    upgrade(store_url)
    engine = connect(store_url)
    n = 7
    try:
        with engine.begin() as conn:
            one_by_one = []
            for i in range(n):
                head = _head("QQ1", i, workflow=_workflow("QQ1", i))
                one_by_one.append(
                    record_batch(
                        conn,
                        batch_id=head.batch_id,
                        agency=head.agency,
                        legal_basis=head.legal_basis,
                        manifest_json=head.manifest_json,
                        manifest_sha256=head.manifest_sha256,
                        requests_sha256=head.requests_sha256,
                        request_rows=_request_rows(n, "QQ1").slice(i, 1),
                        decision_rows=_decision_rows(n, "QQ1").slice(i, 1),
                        batch_reason=head.batch_reason,
                        received_at=head.received_at,
                        completed_at=head.completed_at,
                        status=head.status,
                        workflow=head.workflow,
                    )
                )
            owner = pl.int_range(pl.len(), dtype=pl.Int64).alias("owner")
            together = record_batches(
                conn,
                [_head("QQ2", i, workflow=_workflow("QQ2", i)) for i in range(n)],
                _request_rows(n, "QQ2").with_columns(owner),
                _decision_rows(n, "QQ2").with_columns(owner),
            )
            assert record_batches(conn, [], _request_rows(0, "x"), _decision_rows(0, "x")) == []
            # keys in the order of the heads, whatever the order the columns' shapes were inserted in
            ids = {r.batch_id: r.id for r in conn.execute(select(batches.c.batch_id, batches.c.id))}
            assert together == [ids[f"QQ2-{i}"] for i in range(n)]
            assert len(set(one_by_one) | set(together)) == 2 * n
            stored = _stored(conn, "QQ2")
            assert len(stored) == 3 * n  # a batch row, a request row and a decision each
            assert sorted(stored) == sorted(_stored(conn, "QQ1"))
    finally:
        engine.dispose()


def test_a_few_rows_are_stored_on_python_values_as_the_frame_path_stores_them(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below ``JSON_MIN_ROWS`` rows ``record_batches`` inserts Python values (an online group);
    the stored rows read back exactly as the frame insert's, on each store."""
    upgrade(store_url)
    engine = connect(store_url)
    n = 5
    # batch 0 holds rows 0-2, batch 1 rows 3-4: several rows of one batch, in order
    owner = pl.Series("owner", [0, 0, 0, 1, 1], dtype=pl.Int64)
    numbers = pl.Series("row_number", [1, 2, 3, 1, 2], dtype=pl.Int64)
    try:
        with engine.begin() as conn:
            for tag, small in (("PV1", True), ("PV2", False)):
                monkeypatch.setattr(records, "JSON_MIN_ROWS", 64 if small else 0)
                record_batches(
                    conn,
                    [_head(tag, i, workflow=_workflow(tag, i)) for i in range(2)],
                    _request_rows(n, tag).with_columns(numbers, owner),
                    _decision_rows(n, tag).with_columns(owner),
                )
            by_values, by_frame = _stored(conn, "PV1"), _stored(conn, "PV2")
    finally:
        engine.dispose()
    assert len(by_values) == 2 + 2 * n
    assert by_values == by_frame
