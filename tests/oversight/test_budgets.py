"""Query budgets: near-variants of one subject count together, across batches and restarts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from alembic import command
from sqlalchemy import event, select

from custodes import Gateway
from custodes.config import BudgetConfig
from custodes.oversight import budgets
from custodes.oversight.budgets import (
    check_budgets,
    components,
    connected_history,
    repeated_subjects,
    subject_edges,
)
from custodes.oversight.tables import budget_keys, budget_queries
from custodes.store import connect, upgrade
from custodes.store.engine import alembic_config
from tests.oversight.conftest import DHS, NOW, decisions_of, make_gateway, submit

# 20 variants of José Luis García López (dob 1975-11-30, 77 Lake Shore Dr Unit 9, Chicago 60611):
# accents, nicknames, one or both surnames, a changed address, a changed dob, misspellings.
VARIANTS = [
    ("José", "Luis", "García López", "1975-11-30", "77 Lake Shore Dr Unit 9", "Chicago", "60611"),
    ("Jose", "", "Garcia Lopez", "1975-11-30", "77 Lake Shore Drive", "Chicago", "60611"),
    ("Pepe", "", "Garcia", "1975-11-30", "77 Lake Shore Dr", "Chicago", "60611"),
    ("Jose", "L", "Lopez", "1975-11-30", "400 North Main Street", "Chicago", "60601"),
    ("José", "", "García-López", "1975-03-11", "77 Lake Shore Dr Unit 9", "Chicago", "60611"),
    ("Jose", "", "Garsia Lopes", "1975-11-30", "12 W Madison St", "Chicago", "60602"),
    ("Jose", "Luis", "Garcia", "1976-11-30", "77 Lake Shore Dr Apt 9", "Chicago", "60611"),
    ("Joseph", "", "Garcia Lopez", "1975-11-30", "77 Lake Shore Dr", "Chicago", "60611"),
    ("Jose", "", "Lopez Garcia", "1975-11-30", "900 S Wabash Ave", "Chicago", "60605"),
    ("Jos", "", "Garcia Lopez", "1975-11-30", "77 Lake Shore Dr", "Chicago", "60611"),
    ("Jose", "", "Garcia y Lopez", "1957-11-30", "77 Lake Shore Dr", "Chicago", "60611"),
    ("Joes", "", "Garcia", "1975-11-30", "77 Lake Shore Dr", "Chicago", "60611"),
    ("Jose", "", "Garcia Lopez", "1975-11-03", "400 N Main St", "Chicago", "60601"),
    ("José Luis", "", "García", "1975-11-30", "1 E Erie St", "Chicago", "60611"),
    ("Jose", "", "Garca Lopez", "1975-11-30", "77 Lake Shore Dr", "Chicago", "60611"),
    ("Pepe", "", "Lopez", "1975-11-30", "400 North Main Street", "Chicago", "60601"),
    ("Jose", "", "Garcia Lopez", "1975-11-30", "2200 N Clark St", "Chicago", "60614"),
    ("Josè", "", "Garcìa", "1975-11-30", "77 Lake Shore Dr Unit 9", "Chicago", "60611"),
    ("Jose", "Luis", "Garcia Lopez", "1975-12-30", "77 Lake Shore Dr Unit 9", "Chicago", "60611"),
    ("J", "", "Garcia Lopez", "1975-11-30", "77 Lake Shore Dr Unit 9", "Chicago", "60611"),
]
OTHERS = [
    ("Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "61602"),
    ("Maria", "", "Garcia", "1978-02-14", "77 Lake Shore Dr Unit 9", "Chicago", "60611"),
    ("Paul", "", "Novak", "1980-01-01", "3 Fir St", "Joliet", "60431"),
]


def _row(request_id: str, v: tuple[str, ...]) -> list[str]:
    first, middle, last, dob, street, city, zip_code = v
    return [request_id, first, middle, last, dob, street, city, "IL", zip_code, ""]


def test_the_twenty_variants_of_one_person_are_one_subject_and_others_are_not() -> None:
    rows = [_row(f"V{i}", v) for i, v in enumerate(VARIANTS)] + [
        _row(f"O{i}", v) for i, v in enumerate(OTHERS)
    ]
    frame = pl.DataFrame(
        rows, schema=["request_id", "first_name", "middle_name", "last_name", "dob", "street", "city", "state",
                      "zip", "tin"], orient="row"
    ).with_row_index("row_number", offset=1).with_columns(pl.col("row_number").cast(pl.Int64))  # fmt: skip
    edges = subject_edges(frame, NOW.date()).rename({"row_number": "node"})
    labels = components(edges, frame["row_number"])["subject"].to_list()
    assert len(set(labels[:20])) == 1, "every variant belongs to one subject"
    assert len(set(labels[20:])) == 3, "three other people stay three subjects"
    assert labels[0] not in labels[20:], "Maria García at the same address is not José"


def test_twenty_variants_across_five_batches_hit_the_budget_and_the_report_shows_it(
    gateway: Gateway, tmp_path: Path
) -> None:
    answered = refused = 0
    for b in range(5):
        rows = [_row(f"B{b}-V{i}", VARIANTS[b * 4 + i]) for i in range(4)]
        rows += [_row(f"B{b}-O{i}", v) for i, v in enumerate(OTHERS)] if b == 0 else []
        result = submit(gateway, tmp_path, f"DHS-FISH-{b}", rows, now=NOW + timedelta(hours=b))
        decided = decisions_of(result)
        for i in range(4):
            row = decided[f"B{b}-V{i}"]
            if row["reason"] == "query_budget_exceeded":
                assert row["outcome"] == "refused"
                refused += 1
            else:
                answered += 1
        if b == 0:
            assert all(decided[f"B0-O{i}"]["reason"] != "query_budget_exceeded" for i in range(3))
    assert (answered, refused) == (3, 17), "the default budget answers three queries about one subject"

    # the state lives in the store: a new gateway on the same store refuses the subject too
    again = Gateway(gateway.settings)
    late = submit(again, tmp_path, "DHS-FISH-5", [_row("L1", VARIANTS[0])], now=NOW + timedelta(days=1))
    assert decisions_of(late)["L1"]["reason"] == "query_budget_exceeded"
    again.close()

    engine = connect(gateway.settings.store_url)
    with engine.connect() as conn:
        patterns = repeated_subjects(conn, DHS, NOW - timedelta(days=1))
    engine.dispose()
    top = patterns[0]
    assert (top.queries, top.answered, top.refused) == (21, 3, 18)
    assert top.batches == tuple(f"DHS-FISH-{b}" for b in range(6))
    assert all(p.queries < 3 for p in patterns[1:])


def test_past_the_window_the_subject_may_be_asked_about_again(gateway: Gateway, tmp_path: Path) -> None:
    for b in range(4):
        submit(gateway, tmp_path, f"DHS-W-{b}", [_row("R", VARIANTS[b])], now=NOW + timedelta(minutes=b))
    assert (
        decisions_of(
            submit(gateway, tmp_path, "DHS-W-4", [_row("R", VARIANTS[4])], now=NOW + timedelta(days=29))
        )["R"]["reason"]
        == "query_budget_exceeded"
    )
    later = submit(gateway, tmp_path, "DHS-W-5", [_row("R", VARIANTS[5])], now=NOW + timedelta(days=31))
    assert decisions_of(later)["R"]["reason"] != "query_budget_exceeded"


def test_the_daily_cap_refuses_requests_past_it_in_row_order(
    tmp_path: Path, store_url: str, master_index: Path
) -> None:
    gw = make_gateway(tmp_path, store_url, master_index, budgets=BudgetConfig(agency_daily_caps={DHS: 4}))
    try:
        first = submit(gw, tmp_path, "DHS-CAP-1", [_row(f"O{i}", v) for i, v in enumerate(OTHERS)])
        assert all(r["reason"] != "query_budget_exceeded" for r in decisions_of(first).values())
        second = decisions_of(
            submit(gw, tmp_path, "DHS-CAP-2", [_row("A", VARIANTS[0]), _row("B", VARIANTS[0])])
        )
        assert second["A"]["reason"] != "query_budget_exceeded"
        assert second["B"]["reason"] == "query_budget_exceeded"
        tomorrow = submit(gw, tmp_path, "DHS-CAP-3", [_row("C", OTHERS[2])], now=NOW + timedelta(days=1))
        assert decisions_of(tomorrow)["C"]["reason"] != "query_budget_exceeded"
        gw.settings = replace(gw.settings, budgets=BudgetConfig(subject_limit=0))
        free = submit(gw, tmp_path, "DHS-CAP-4", [_row(f"X{i}", VARIANTS[0]) for i in range(5)])
        assert all(r["reason"] != "query_budget_exceeded" for r in decisions_of(free).values())
    finally:
        gw.close()


def _frame(rows: list[list[str]]) -> pl.DataFrame:
    columns = [
        "request_id",
        "first_name",
        "middle_name",
        "last_name",
        "dob",
        "street",
        "city",
        "state",
        "zip",
        "tin",
    ]
    return (
        pl.DataFrame(rows, schema=columns, orient="row")
        .with_row_index("row_number", offset=1)
        .with_columns(pl.col("row_number").cast(pl.Int64))
    )


def test_history_looked_up_by_key_decides_as_the_whole_window_does(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An online request reads only the history connected to its subject, with the same verdict."""
    for b in range(6):  # one variant per batch: a chain of near-variants, plus unrelated people
        rows = [_row("V", VARIANTS[b * 2]), _row("W", VARIANTS[b * 2 + 1])]
        rows += [_row("O", OTHERS[b % len(OTHERS)])] if b % 2 else []
        submit(gateway, tmp_path, f"DHS-HIST-{b}", rows, now=NOW + timedelta(hours=b))
    frame = _frame([_row("N1", VARIANTS[15]), _row("N2", OTHERS[0]), _row("N3", VARIANTS[19])])
    refused = pl.Series([None] * frame.height, dtype=pl.Utf8)
    config = BudgetConfig(daily_cap=20)
    later = NOW + timedelta(hours=8)
    engine = connect(gateway.settings.store_url)
    try:
        with engine.connect() as conn:
            by_key = check_budgets(conn, config, agency=DHS, frame=frame, refused=refused, now=later)
            monkeypatch.setattr(budgets, "LOOKUP_ROWS", 0)  # the batch path: the whole window
            whole = check_budgets(conn, config, agency=DHS, frame=frame, refused=refused, now=later)
            connected = connected_history(
                conn, DHS, later - timedelta(days=30), set(subject_edges(frame.head(1), later.date())["key"])
            )
    finally:
        engine.dispose()
    assert by_key.refusals.to_list() == whole.refusals.to_list()
    assert by_key.queries.equals(whole.queries)
    assert by_key.refusals.to_list() == ["query_budget_exceeded", None, "query_budget_exceeded"]
    # the lookup found José's twelve earlier queries and none about the others
    assert connected.height == 12
    assert set(connected["request_id"]) == {"V", "W"}


def test_migration_0005_indexes_the_keys_of_stored_queries(store_url: str) -> None:
    engine = connect(store_url)
    command.upgrade(alembic_config(store_url), "0004")
    with engine.begin() as conn:
        conn.execute(
            budget_queries.insert().values(
                agency=DHS, batch_id="OLD-1", row_number=1, request_id="R", requested_at=NOW,
                subject_keys="-7 5 9223372036854775807", status="answered", budget=None,
            )
        )  # fmt: skip
    upgrade(store_url)
    with engine.connect() as conn:
        keys = conn.execute(select(budget_keys.c.subject_key, budget_keys.c.batch_id)).all()
    engine.dispose()
    assert sorted(keys) == [(-7, "OLD-1"), (5, "OLD-1"), (9223372036854775807, "OLD-1")]


def _synth_requests(tmp_path: Path, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A 3,000-request synth batch (every hard category): its rows, and its people by ``rid``."""
    from custodes.contract import read_requests
    from custodes.synth import generate

    data = tmp_path / "synth"
    generate(3000, 1500, seed, data, "csv")
    frame = read_requests(data / "requests.csv")
    people = frame.select(
        pl.col("row_number").cast(pl.Int64).alias("rid"),
        "first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip", "tin",
    )  # fmt: skip
    return frame, people


def test_keys_from_the_linkage_preparation_equal_the_keys_from_the_request_rows(tmp_path: Path) -> None:
    # the online path prepares its subjects once for the budgets and the matcher: the keys
    # must not depend on which of the two normalised them (synth covers every hard category)
    from custodes.link.prepare import prepare_people
    from custodes.oversight.budgets import prepared_edges

    frame, people = _synth_requests(tmp_path, 11)
    via_rows = subject_edges(frame, NOW.date()).sort("row_number", "key")
    via_prepared = prepared_edges(prepare_people(people, today=NOW.date())).sort("row_number", "key")
    assert via_rows.height > 3 * frame.height
    assert via_rows.equals(via_prepared)


def test_keys_on_python_values_equal_the_keys_of_the_frame_pipeline(tmp_path: Path) -> None:
    # groups of up to SMALL_ROWS rows derive their keys on Python values; the polars pipeline
    # is the definition, held here on every hard synth category, names without tokens included
    from custodes.link.prepare import prepare_people
    from custodes.oversight import budgets

    frame, people = _synth_requests(tmp_path, 12)
    prepared = prepare_people(people, today=NOW.date())
    assert prepared.height > budgets.SMALL_ROWS
    whole = budgets.prepared_edges(prepared).sort("row_number", "key")
    step = budgets.SMALL_ROWS
    pieces = [budgets.prepared_edges(prepared.slice(i, step)) for i in range(0, prepared.height, step)]
    small = pl.concat(pieces).sort("row_number", "key")
    assert whole.height > 3 * frame.height
    assert small.schema == whole.schema
    assert small.equals(whole)


def test_components_on_python_values_equal_the_label_propagation(monkeypatch: pytest.MonkeyPatch) -> None:
    # small graphs take the union-find path; the polars label propagation is the definition
    import random

    from custodes.oversight import budgets

    rng = random.Random(7)
    merged = 0
    for _ in range(200):
        n_nodes = rng.randint(1, 40)
        nodes = pl.Series("node", rng.sample(range(1000), n_nodes), dtype=pl.Int64)
        pairs = [
            (rng.choice(nodes.to_list()), rng.randint(-5, rng.randint(1, 60)))
            for _ in range(rng.randint(0, 80))
        ]
        edges = pl.DataFrame(pairs, schema={"node": pl.Int64, "key": pl.Int64}, orient="row")
        by_values = budgets.components(edges, nodes)
        with monkeypatch.context() as patch:
            patch.setattr(budgets, "SMALL_EDGES", -1)
            by_frame = budgets.components(edges, nodes)
        assert by_values.equals(by_frame)
        merged += by_values["subject"].n_unique() < n_nodes
    assert merged > 50  # most graphs merged some nodes


def test_the_verdict_on_python_values_equals_the_frame_verdict() -> None:
    # online groups are decided on Python values; the frame operations are the definition.
    # Random groups against random histories: shared keys chain subjects, some rows are
    # legally refused (not eligible), budgets and daily caps bite at every size.
    import random

    rng = random.Random(5)
    bitten = {budgets.SUBJECT_BUDGET: 0, budgets.DAILY_CAP: 0}
    for trial in range(300):
        n_rows = rng.randint(1, 12)
        frame = pl.DataFrame(
            {
                "row_number": list(range(1, n_rows + 1)),
                "request_id": [f"R{trial}-{i}" for i in range(n_rows)],
            },
            schema={"row_number": pl.Int64, "request_id": pl.Utf8},
        )
        eligible = frame.filter(pl.Series([rng.random() > 0.2 for _ in range(n_rows)]))
        if eligible.is_empty():
            continue
        space = rng.randint(2, 40)
        edges = pl.DataFrame(
            sorted(
                {
                    (n, rng.randint(-space, space))
                    for n in eligible["row_number"]
                    for _ in range(rng.randint(0, 4))
                }
            ),
            schema={"node": pl.Int64, "key": pl.Int64},
            orient="row",
        )
        n_hist = rng.randint(0, 15)
        in_window = pl.DataFrame(
            {
                "batch_id": [f"B{i}" for i in range(n_hist)],
                "row_number": [1] * n_hist,
                "request_id": [f"H{i}" for i in range(n_hist)],
                "requested_at": [NOW - timedelta(hours=i) for i in range(n_hist)],
                "subject_keys": [
                    " ".join(
                        str(k) for k in sorted({rng.randint(-space, space) for _ in range(rng.randint(0, 3))})
                    )
                    for _ in range(n_hist)
                ],
                "status": [rng.choice([budgets.ANSWERED, budgets.REFUSED]) for _ in range(n_hist)],
                "budget": [None] * n_hist,
            },
            schema=budgets._HISTORY_SCHEMA,
        )
        config = BudgetConfig(subject_limit=rng.choice([0, 1, 2, 3]), daily_cap=rng.choice([0, 1, 3, 50]))
        cap, used = config.cap_for(DHS), rng.randint(0, 4)
        by_values = budgets._verdict_of_values(config, cap, frame, eligible, edges, in_window, used)
        by_frame = budgets._verdict_of_frame(config, cap, frame, eligible, edges, in_window, used)
        assert by_values.refusals.equals(by_frame.refusals), trial
        assert by_values.queries.schema == by_frame.queries.schema
        assert by_values.queries.equals(by_frame.queries), trial
        for reason in bitten:
            bitten[reason] += by_values.queries["budget"].eq(reason).sum()
    assert min(bitten.values()) > 50, bitten


def test_the_history_lookup_reads_by_primary_key_and_never_scans_the_window(tmp_path: Path) -> None:
    """Regression: a row-value IN with the window in SQL made SQLite walk the agency's whole window.

    Every statement ``connected_history`` runs must search a primary key on SQLite; the
    window is applied to the rows found (an out-of-window query is not returned).
    """
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    upgrade(url)
    engine = connect(url)
    rows = [
        {"agency": DHS, "batch_id": f"B{i}", "row_number": 1, "request_id": f"R{i}",
         "requested_at": NOW - timedelta(days=40 if i == 0 else i), "subject_keys": f"{i} {i + 1}",
         "status": "answered", "budget": None}
        for i in range(5)
    ]  # fmt: skip
    statements: list[tuple[str, object]] = []

    def keep(_conn: object, _cursor: object, statement: str, parameters: object, *_rest: object) -> None:
        statements.append((statement, parameters))

    try:
        with engine.begin() as conn:
            conn.execute(budget_queries.insert(), rows)
            conn.execute(
                budget_keys.insert(),
                [
                    {"agency": DHS, "subject_key": k, "batch_id": r["batch_id"], "row_number": 1}
                    for r in rows
                    for k in map(int, str(r["subject_keys"]).split())
                ],
            )
        event.listen(engine, "before_cursor_execute", keep)
        with engine.connect() as conn:
            found = connected_history(conn, DHS, NOW - timedelta(days=30), {3})
        event.remove(engine, "before_cursor_execute", keep)
        assert statements
        with engine.connect() as conn:
            for statement, parameters in statements:
                plan = " ".join(
                    str(r[-1])
                    for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
                )
                assert "USING PRIMARY KEY" in plan or "autoindex" in plan, plan
                assert "SCAN" not in plan, plan
                assert "ix_oversight_budget_agency_at" not in plan, plan
    finally:
        engine.dispose()
    # the chain 3-4, 2-3, 1-2, 0-1 reaches B0, which is outside the 30-day window
    assert sorted(found["batch_id"]) == ["B1", "B2", "B3", "B4"]


def test_a_few_queries_are_stored_on_python_values_as_the_frame_path_stores_them(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``record_queries`` below ``JSON_MIN_ROWS`` rows inserts Python values (the online path);
    what it stores reads back exactly as the frame insert's (each store, both owners' forms)."""
    from custodes.oversight.budgets import record_queries

    upgrade(store_url)
    engine = connect(store_url)
    queries = pl.DataFrame(
        {
            "row_number": [1, 2, 3],
            "request_id": ["R1", "R2'; DROP TABLE x; --", "R3"],
            "status": ["answered", "refused", "answered"],
            "budget": [None, "subject_limit", None],
            "subject_keys": ["11 12 -13", "", "12 9223372036854775807"],
            "_batch_id": ["VB-1", "VB-2", "VB-3"],
        },
        schema={"row_number": pl.Int64, "request_id": pl.Utf8, "status": pl.Utf8, "budget": pl.Utf8,
                "subject_keys": pl.Utf8, "_batch_id": pl.Utf8},
    )  # fmt: skip

    def stored(prefix: str, small: bool) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        monkeypatch.setattr(budgets, "JSON_MIN_ROWS", 64 if small else 0)
        named = queries.with_columns((pl.lit(prefix) + pl.col("_batch_id")).alias("_batch_id"))
        with engine.begin() as conn:
            record_queries(conn, DHS, f"{prefix}B", NOW, named.drop("_batch_id"))
            record_queries(conn, DHS, pl.col("_batch_id"), NOW, named)
        with engine.connect() as conn:
            q = budget_queries.c
            found = conn.execute(
                select(
                    q.batch_id, q.row_number, q.request_id, q.requested_at, q.subject_keys, q.status, q.budget
                )
                .where(q.batch_id.startswith(prefix))
                .order_by(q.batch_id, q.row_number)
            ).all()
            k = budget_keys.c
            keys = conn.execute(
                select(k.agency, k.subject_key, k.batch_id, k.row_number)
                .where(k.batch_id.startswith(prefix))
                .order_by(k.batch_id, k.row_number, k.subject_key)
            ).all()
        strip = len(prefix)
        return (
            [(r[0][strip:], *r[1:]) for r in found],
            [(r[0], r[1], r[2][strip:], r[3]) for r in keys],
        )

    try:
        small_rows, small_keys = stored("S-", small=True)
        frame_rows, frame_keys = stored("F-", small=False)
    finally:
        engine.dispose()
    assert small_rows == frame_rows
    assert small_keys == frame_keys
    assert len(small_rows) == 6
    assert (DHS, 9223372036854775807, "VB-3", 3) in small_keys
    assert (DHS, -13, "B", 1) in small_keys
