"""The model's parameters live in the index: a subject's decision never depends on its batch."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from custodes.config import LinkageConfig
from custodes.errors import StoreError
from custodes.link import DuckDBLinker
from custodes.link.comparisons import ALL_LEVELS
from custodes.link.model import M_PROBABILITIES, level_weights, load_parameters
from tests.link.conftest import TODAY, request_frame

SUBJECTS = [
    (1, "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""),
    (2, "Danie", "", "Ortiz", "1999-01-02", "5 Birch Court", "Elgin", "IL", "60120", ""),
    (3, "John", "Q", "Smith", "", "12 Elm St", "Springfield", "IL", "62701", ""),
    (4, "Tobt", "", "Chater", "1944-06-24", "16 Holland Street", "Keysborough", "IL", "60412", ""),
    (5, "Jose", "", "Garcia", "1975-11-30", "77 Lake Shore Drive #9", "Chicago", "IL", "60611", ""),
    (6, "Paul", "", "Novak", "1980-01-01", "3 Fir St", "Joliet", "IL", "60431", "133-45-6789"),
]


def test_the_index_carries_the_fixed_m_probabilities(index_path: Path) -> None:
    con = duckdb.connect(str(index_path), read_only=True)
    try:
        params = load_parameters(con)
    finally:
        con.close()
    assert params.m == {name: list(values) for name, values in M_PROBABILITIES.items()}
    assert set(params.u) == set(ALL_LEVELS)
    assert all(len(params.m[k]) == len(ALL_LEVELS[k]) for k in ALL_LEVELS)
    assert params.taxpayers > 3000


def test_m_probabilities_are_distributions_and_weights_are_monotone() -> None:
    for name, values in M_PROBABILITIES.items():
        assert values[0] == 1.0
        assert sum(values[1:]) == pytest.approx(1.0, abs=1e-9), name
        assert min(values[1:]) > 0
    uniform = {k: [1.0] + [1 / (len(v) - 1)] * (len(v) - 1) for k, v in M_PROBABILITIES.items()}
    for name, weights in level_weights({k: list(v) for k, v in M_PROBABILITIES.items()}, uniform).items():
        assert weights[1:] == sorted(weights[1:]), name


def test_each_subject_is_decided_alone_exactly_as_in_the_batch(linker: DuckDBLinker) -> None:
    together = linker.link(request_frame(SUBJECTS), today=TODAY).decisions.sort("rid").to_dicts()
    assert {d["outcome"] for d in together} >= {"match", "ambiguous"}
    for subject, in_batch in zip(SUBJECTS, together, strict=True):
        (alone,) = linker.link(request_frame([subject]), today=TODAY).decisions.to_dicts()
        assert alone == in_batch


def test_an_index_without_parameters_is_refused_with_what_to_do(tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE meta AS SELECT 1::BIGINT AS taxpayers")
    con.close()
    with pytest.raises(StoreError, match="master load"):
        DuckDBLinker(old, LinkageConfig())


def test_the_same_master_in_any_row_order_gives_the_same_u(tmp_path: Path) -> None:
    import polars as pl

    from custodes.link import build_index
    from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows

    master = pl.DataFrame(MASTER_ROWS + filler_rows(400), schema=COLUMNS, orient="row")
    u = []
    for i, frame in enumerate((master, master.reverse())):
        target = tmp_path / f"index-{i}.duckdb"
        build_index(frame, target, today=TODAY)
        con = duckdb.connect(str(target), read_only=True)
        try:
            u.append(con.sql("SELECT * FROM u_probabilities ORDER BY comparison, level").fetchall())
        finally:
            con.close()
    assert u[0] == u[1]
