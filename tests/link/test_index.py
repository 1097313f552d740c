"""The matching index build: chunking by taxpayer changes nothing, the layout, a broken index."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from custodes.config import LinkageConfig
from custodes.errors import StoreError
from custodes.link import DuckDBLinker, build_index, index
from custodes.link.index import TAXPAYER_TABLES
from tests.link.conftest import COLUMNS, MASTER_ROWS, TODAY, filler_rows


def _master() -> pl.DataFrame:
    master = pl.DataFrame(MASTER_ROWS + filler_rows(1500), schema=COLUMNS, orient="row")
    return master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year")


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    """Every table of the index, sorted, with each taxpayer number (pid) given as its TIN.

    The chunks number their taxpayers one after another, so the numbers depend on the
    chunking; which taxpayer each row is about does not.
    """
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        pids = con.sql("SELECT pid, tin AS pid_tin FROM online_persons").pl()
        assert sorted(pids["pid"].to_list()) == list(range(pids.height)), "pids number the taxpayers 0..N-1"
        out = {}
        for name in sorted(set(names) - {"meta"}):
            frame = con.sql(f"SELECT * FROM {name}").pl()
            if "pid" in frame.columns:
                frame = frame.join(pids, on="pid", how="left").drop("pid")
                assert frame["pid_tin"].null_count() == 0, name
            frame = frame.select(sorted(frame.columns))
            flat = [c for c, t in frame.schema.items() if not isinstance(t, pl.List)]
            out[name] = frame.sort(flat)
        return out
    finally:
        con.close()


@pytest.mark.parametrize("in_memory_rows", [0, 10_000], ids=["scratch-parts", "in-memory"])
def test_chunks_split_by_taxpayer_give_the_same_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory_rows: int
) -> None:
    monkeypatch.setattr(index, "IN_MEMORY_ROWS", in_memory_rows)
    master = _master()
    whole = build_index(master, tmp_path / "one" / "master.duckdb", today=TODAY)
    split = build_index(master.lazy(), tmp_path / "many" / "master.duckdb", today=TODAY, chunk_rows=400)
    assert (whole.rows, whole.taxpayers, whole.addresses) == (split.rows, split.taxpayers, split.addresses)
    assert whole.rows == master.height
    parts = list((tmp_path / "many" / "master.duckdb.d").glob("*/persons/*.parquet"))
    assert len(parts) == 4  # ceil(1514 rows / 400)
    scratch = tmp_path / "many" / "master.duckdb.d"
    assert not [p for p in scratch.iterdir() if p.name.startswith(".work")], "the scratch parts are removed"
    one, many = _tables(whole.path), _tables(split.path)
    assert set(one) == set(many) >= {*TAXPAYER_TABLES, "tf_first", "u_probabilities", "oversized_tin"}
    for name, frame in one.items():
        assert frame.equals(many[name]), name


def _persons(path: Path) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql("SELECT pid, tin, first_tok, addr_key FROM online_persons ORDER BY pid").pl()
    finally:
        con.close()


def test_chunks_normalised_on_threads_number_taxpayers_as_one_thread_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = {}
    for threads in (1, 2, 3):
        monkeypatch.setattr(index, "PART_THREADS", threads)
        target = tmp_path / str(threads) / "master.duckdb"
        summary = build_index(_master().lazy(), target, today=TODAY, chunk_rows=300)
        built[threads] = (summary.rows, summary.taxpayers, summary.addresses, _persons(target))
    one = built[1]
    assert one[3]["pid"].to_list() == list(range(one[1]))
    for threads in (2, 3):
        assert built[threads][:3] == one[:3]
        assert built[threads][3].equals(one[3]), threads


def test_the_latest_tax_year_is_the_address_of_record(tmp_path: Path) -> None:
    path = build_index(_master(), tmp_path / "master.duckdb", today=TODAY, chunk_rows=300).path
    con = duckdb.connect(str(path), read_only=True)
    try:
        street, current = con.execute(
            "SELECT p.street, count(*) FILTER (WHERE a.is_current) FROM persons p "
            "JOIN addresses a ON a.tin = p.tin WHERE p.tin = '523456789' GROUP BY p.street"
        ).fetchall()[0]
    finally:
        con.close()
    assert street == "77 Lake Shore Dr Unit 9"
    assert current == 1


def test_a_reload_keeps_the_previous_build_and_prunes_older(tmp_path: Path) -> None:
    target = tmp_path / "master.duckdb"
    for _ in range(3):
        build_index(_master(), target, today=TODAY)
    builds = [p for p in (tmp_path / "master.duckdb.d").iterdir() if p.is_dir()]
    assert len(builds) == 2
    assert not list(tmp_path.glob("*.tmp-*"))


def test_an_index_whose_files_are_gone_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "master.duckdb"
    build_index(_master(), target, today=TODAY)
    shutil.rmtree(tmp_path / "master.duckdb.d")
    with pytest.raises(StoreError, match="master load"):
        DuckDBLinker(target, LinkageConfig())


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        # built for another set of blocking rules
        ("UPDATE online_meta SET rules = rules - 1", r"blocking rules.*master load"),
        # hashed by another DuckDB: the batch looks candidates up by key hash and would find none
        ("UPDATE online_meta SET canary = canary + 1", "hash function differs"),
        # built before the online tables existed
        ("DROP TABLE online_meta", r"no online tables.*master load"),
    ],
    ids=["other-rules", "other-hash", "no-online-tables"],
)
def test_an_index_the_batch_engine_cannot_use_is_a_clear_error(
    tmp_path: Path, change: str, refusal: str
) -> None:
    target = tmp_path / "master.duckdb"
    build_index(_master(), target, today=TODAY)
    con = duckdb.connect(str(target))
    con.execute(change)
    con.close()
    with pytest.raises(StoreError, match=refusal):
        DuckDBLinker(target, LinkageConfig())


NOBODY = ("Zed", "", "Nobody", "", "1 Nowhere Rd", "X", "IL", "00001", "")
"""A request's fields (after its number) that no one on file has."""


def _indexed_linker(tmp_path: Path) -> DuckDBLinker:
    target = tmp_path / "master.duckdb"
    build_index(_master(), target, today=TODAY)
    return DuckDBLinker(target, LinkageConfig())


def _master_rows_as_requests() -> list[tuple[object, ...]]:
    """Each master row asked for by its number, every other one with its TIN."""
    return [(i, *row[1:9], row[0] if i % 2 else "") for i, row in enumerate(MASTER_ROWS)]


def _requests(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    from tests.link.conftest import request_frame

    return request_frame([(r[0], *(str(v) for v in r[1:])) for r in rows])


def test_the_linker_caps_duckdbs_memory_and_removes_its_spill_directory(tmp_path: Path) -> None:
    linker = _indexed_linker(tmp_path)
    ((limit, spill),) = linker._con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchall()
    assert limit == "2.7 GiB"  # 3 GB, as DuckDB shows it
    assert Path(spill).is_dir()
    assert Path(spill).name.startswith("custodes-link-")
    linker.close()
    assert not Path(spill).exists()
    linker.close()  # a second close is harmless


def test_requests_linked_in_parts_are_decided_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodes.link.engines import duckdb as engine

    rows = _master_rows_as_requests() + [(100 + i, *NOBODY) for i in range(3)]
    requests = _requests(rows)
    linker = _indexed_linker(tmp_path)
    try:
        whole = linker.link(requests, today=TODAY)
        monkeypatch.setattr(engine, "LINK_CHUNK", 4)
        parts = linker.link(requests, today=TODAY)
    finally:
        linker.close()
    assert whole.candidates == parts.candidates > 0
    assert whole.decisions.equals(parts.decisions)
    assert whole.decisions.filter(pl.col("outcome") == "match").height >= 5


@pytest.mark.parametrize(
    ("rows", "most", "sizes"),
    [
        (0, 4, []),
        (1, 4, [1]),
        (4, 4, [4]),
        (5, 4, [3, 2]),
        (9, 4, [3, 3, 3]),
        (1_280_000, 250_000, [213_334] * 5 + [213_330]),
        (1_000_000, 250_000, [250_000] * 4),
    ],
)
def test_parts_are_as_few_and_as_even_as_they_can_be(rows: int, most: int, sizes: list[int]) -> None:
    from custodes.link.engines.duckdb import part_starts

    starts = part_starts(rows, most)
    got = [min(start + starts.step, rows) - start for start in starts]
    assert got == sizes
    assert sum(got) == rows
    assert all(size <= most for size in got)


def test_candidates_streamed_in_batches_are_decided_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custodes.link.engines import duckdb as engine

    # requests without a candidate before, between and after the others
    spread = [(10 * i + 5, *row[1:]) for i, row in enumerate(_master_rows_as_requests())]
    requests = _requests([(0, *NOBODY), *spread, (1000, *NOBODY)])
    linker = _indexed_linker(tmp_path)
    try:
        whole = linker.link(requests, today=TODAY)
        # batches of 2 pairs: a request's candidates cross batch ends
        monkeypatch.setattr(engine, "LEVEL_BATCH_ROWS", 2)
        batched = linker.link(requests, today=TODAY)
        prepared = engine.prepare_people(requests, today=TODAY)
        levels = linker.candidate_levels(prepared)
        batches = list(linker.candidate_level_batches(prepared, 3))
        nothing = list(linker.candidate_level_batches(prepared.filter(pl.col("rid") == 0), 3))
    finally:
        linker.close()
    assert len(batches) > 2
    assert all(b.height <= 3 for b in batches)
    assert pl.concat(batches).sort("rid", "tin").equals(levels.sort("rid", "tin"))
    # a part without candidates still hands one (empty) batch, with the levels' columns
    assert [b.height for b in nothing] == [0]
    assert nothing[0].columns == levels.columns
    assert whole.candidates == batched.candidates == levels.height > 0
    assert whole.decisions.equals(batched.decisions)
    assert whole.decisions.filter(pl.col("outcome") == "match").height >= 5
    assert whole.decisions.filter(pl.col("rid").is_in([0, 1000]))["reason"].to_list() == ["no_candidate"] * 2


def test_requests_linked_from_a_larger_prepared_frame_are_decided_as_on_their_own(tmp_path: Path) -> None:
    from custodes.link.engines import duckdb as engine

    everyone = _requests(_master_rows_as_requests())
    # the budgets refused every third request after the subjects were prepared
    requests = everyone.filter(pl.col("rid") % 3 != 0)
    linker = _indexed_linker(tmp_path)
    try:
        alone = linker.link(requests, today=TODAY)
        given = linker.link(requests, today=TODAY, prepared=engine.prepare_people(everyone, today=TODAY))
    finally:
        linker.close()
    assert given.decisions["rid"].to_list() == requests["rid"].to_list()
    assert given.decisions.equals(alone.decisions)
    assert given.candidates == alone.candidates > 0
    assert alone.decisions.filter(pl.col("outcome") == "match").height >= 3


def test_a_chunk_that_fails_fails_the_load_and_leaves_no_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = index._chunk_tables
    calls: list[int] = []

    def failing(master: pl.DataFrame, *, today: object, first_pid: int) -> dict[str, pl.DataFrame]:
        calls.append(first_pid)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return real(master, today=TODAY, first_pid=first_pid)

    monkeypatch.setattr(index, "_chunk_tables", failing)
    target = tmp_path / "master.duckdb"
    with pytest.raises(OSError, match="simulated"):
        build_index(_master().lazy(), target, today=TODAY, chunk_rows=300)
    assert not target.exists()
    assert list((tmp_path / "master.duckdb.d").iterdir()) == []
