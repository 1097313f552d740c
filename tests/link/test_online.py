"""The online path decides every subject exactly as the batch path does.

The agreement checks run on a synthetic batch that carries every hard category (twins,
Jr/Sr, namesakes, households, typos, moves, nicknames, Hispanic surnames, missing dobs,
PO boxes, ITINs, people not on file). Both paths read the same model parameters from the
index (``load_parameters``), so any difference is a defect of the online retrieval or
execution, never of the model.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from custodes.config import LinkageConfig
from custodes.contract import read_master, read_requests
from custodes.errors import StoreError
from custodes.link import DuckDBLinker, LinkResult, build_index
from custodes.link.blocking import RULES, candidate_pairs_sql
from custodes.link.decide import _decide_frame, decide_rows, score_candidates
from custodes.link.engines.duckdb import request_rows, request_tables
from custodes.link.keys import CANARY_KEY, HOUSEHOLD_LIMIT, canary_hash, key_hash_sql, keyed_hits_sql
from custodes.link.online import KeyHasher, OnlineMatcher, python_key_hash
from custodes.link.prepare import prepare_people
from custodes.synth import generate
from tests.link.conftest import REQUEST_COLUMNS, TODAY, request_frame

PERSONS = 20_000
REQUESTS = 3_000
LINK_COLUMNS = REQUEST_COLUMNS
DECISION = ["rid", "outcome", "reason", "tin", "address_status"]


@dataclass(frozen=True)
class Synth:
    index: Path
    requests: pl.DataFrame
    truth: pl.DataFrame
    batch: LinkResult


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    base = tmp_path_factory.mktemp("online")
    generate(PERSONS, REQUESTS, seed=11, out=base / "data")
    index = base / "master.duckdb"
    build_index(read_master(base / "data" / "master.parquet").collect(), index, today=TODAY)
    requests = (
        read_requests(base / "data" / "requests.csv").rename({"row_number": "rid"}).select(LINK_COLUMNS)
    )
    linker = DuckDBLinker(index, LinkageConfig())
    try:
        batch = linker.link(requests, today=TODAY)
    finally:
        linker.close()
    truth = pl.read_csv(base / "data" / "truth.csv", infer_schema_length=0)
    return Synth(index, requests, truth, batch)


@pytest.fixture(scope="module")
def matcher(synth: Synth) -> OnlineMatcher:
    return OnlineMatcher(synth.index, LinkageConfig())


def _altered_copy(index: Path, target: Path, sql: str) -> Path:
    """A copy of the index at ``index``, changed by ``sql``: an index an older or other build left."""
    target.write_bytes(index.read_bytes())
    con = duckdb.connect(str(target))
    try:
        con.execute(sql)
    finally:
        con.close()
    return target


def test_the_synthetic_batch_covers_every_hard_category(synth: Synth) -> None:
    categories = set(synth.truth["category"].to_list())
    hard = {"twin", "jr_sr", "namesake", "household", "typo", "moved", "nickname", "hispanic_surname"}
    assert hard <= categories
    assert {"missing_dob", "po_box", "itin", "accent", "not_in_master", "out_of_master"} <= categories


@pytest.mark.parametrize("max_block_size", [1000, 4])
def test_the_keyed_lookup_finds_the_pairs_the_rules_joins_find(
    synth: Synth, tmp_path: Path, max_block_size: int
) -> None:
    # both paths look candidates up by key hash in online_keys; the rules' own joins on
    # the index tables (candidate_pairs_sql) are the definition they must agree with,
    # oversized keys (many at a block size of 4) left out alike
    index = synth.index
    if max_block_size != 1000:
        index = tmp_path / "master.duckdb"
        master = read_master(synth.index.parent / "data" / "master.parquet").collect()
        build_index(master, index, today=TODAY, max_block_size=max_block_size)
    prepared = prepare_people(synth.requests, today=TODAY)
    con = duckdb.connect(str(index), read_only=True)
    try:
        for name, frame in request_tables(prepared).items():
            con.register(name, frame.to_arrow())
        joined = set(con.execute(candidate_pairs_sql()).fetchall())
        keyed = set(con.execute(keyed_hits_sql()).fetchall())
        oversized = [
            con.execute(f"SELECT count(*) FROM oversized_{rule.name}").fetchall()[0][0] for rule in RULES
        ]
    finally:
        con.close()
    assert len(joined) > 2 * synth.requests.height
    if max_block_size == 4:
        assert sum(n > 0 for n in oversized) >= 5
    assert keyed == joined


def test_online_candidates_and_levels_equal_the_batch_sql(synth: Synth, matcher: OnlineMatcher) -> None:
    # the same pairs (retrieval) with the same levels (the comparison SQL run in Python)
    prepared = prepare_people(synth.requests, today=TODAY)
    linker = DuckDBLinker(synth.index, LinkageConfig())
    try:
        batch = linker.candidate_levels(prepared)
    finally:
        linker.close()
    online = matcher.candidate_levels(prepared)
    assert online.height == batch.height > REQUESTS
    order = ["rid", "tin"]
    columns = online.columns
    assert set(columns) == set(batch.columns)
    assert online.sort(order).equals(batch.select(columns).sort(order).cast(online.schema))


def test_request_rows_are_the_request_tables_as_values(synth: Synth) -> None:
    prepared = prepare_people(synth.requests, today=TODAY)
    tables = request_tables(prepared)
    # the synth batch has requests without a dob, a first name or a surname token
    assert tables["req_firsts"]["rid"].n_unique() < prepared.height
    assert tables["req_swapped"].height < prepared.height
    assert request_rows(prepared.to_dicts()) == {name: frame.to_dicts() for name, frame in tables.items()}


def test_online_groups_are_scored_on_values_as_on_frames(synth: Synth, matcher: OnlineMatcher) -> None:
    # groups of the sizes the service makes, the Jr/Sr requests among them
    prepared = prepare_people(synth.requests, today=TODAY)
    model, config = matcher.model, LinkageConfig()
    start, size, suffixed = 0, 1, 0
    while start < prepared.height:
        group = prepared.slice(start, size)
        start += size
        size = size % 97 + 7
        rows = matcher.candidate_rows(group.to_dicts())
        suffixed += sum(row["r_suffix"] is not None for row in rows)
        levels = pl.DataFrame(rows, schema=matcher.candidate_levels(group.head(0)).schema, orient="row")
        scored = score_candidates(
            levels, model.m, model.u, taxpayers=model.taxpayers, prior=config.prior_on_file
        )
        got = decide_rows(
            rows,
            group["rid"],
            model.m,
            model.u,
            taxpayers=model.taxpayers,
            prior=config.prior_on_file,
            config=config,
        )
        assert got is not None
        assert_frame_equal(got, _decide_frame(scored, group["rid"], config), check_exact=True)
    assert suffixed > 0


def test_every_online_decision_equals_the_batch_decision(synth: Synth, matcher: OnlineMatcher) -> None:
    batch = synth.batch.decisions.sort("rid")
    # requests decided in groups of varying size, as the service groups them
    parts, start, size = [], 0, 1
    while start < synth.requests.height:
        parts.append(matcher.decide(synth.requests.slice(start, size), today=TODAY))
        start += size
        size = size % 97 + 7
    online = pl.concat(parts).sort("rid")
    differing = (
        online.select(DECISION)
        .join(batch.select(DECISION), on="rid", suffix="_batch")
        .filter(pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_batch")) for c in DECISION[1:]))
    )
    assert differing.height == 0, differing
    assert online["match_probability"].fill_null(-1).to_list() == pytest.approx(
        batch["match_probability"].fill_null(-1).to_list(), abs=1e-12
    )
    assert set(online["outcome"]) == {"match", "ambiguous", "no_match"}


def test_one_subject_at_a_time_gives_the_same_decisions(synth: Synth, matcher: OnlineMatcher) -> None:
    # a stratified sample: up to 10 requests of every category, through decide_one
    raw = read_requests(synth.index.parent / "data" / "requests.csv")
    sample = (
        raw.join(synth.truth.select("request_id", "category"), on="request_id")
        .filter(pl.int_range(pl.len()).over("category") < 10)
        .sort("row_number")
    )
    batch = {row["rid"]: row for row in synth.batch.decisions.to_dicts()}
    for subject in sample.to_dicts():
        online = matcher.decide_one(subject, today=TODAY)
        expected = batch[subject["row_number"]]
        assert online["request_id"] == subject["request_id"]
        got = [online[k] for k in DECISION[1:]]
        assert got == [expected[k] for k in DECISION[1:]], (subject["category"], subject["request_id"])


def test_the_hand_made_hard_cases_agree(index_path: Path) -> None:
    rows = [
        (1, "Marta", "", "Kowalski", "2001-05-05", "9 Oak Avenue #3", "Peoria", "IL", "61602", ""),
        (2, "A", "", "Kowalski", "2001-05-05", "9 Oak Avenue #3", "Peoria", "IL", "61602", ""),
        (3, "Danie", "", "Ortiz", "1999-01-02", "5 Birch Court", "Elgin", "IL", "60120", ""),
        (4, "John", "Q", "Smith", "", "12 Elm St", "Springfield", "IL", "62701", ""),
        (5, "John", "Q", "Smith Sr", "", "12 Elm St", "Springfield", "IL", "62701", ""),
        (6, "Jose", "L", "Garcia-Lopez", "1975-11-30", "400 N Main St", "Chicago", "IL", "60601", ""),
        (7, "Carlos", "", "Garcia", "2008-04-04", "77 Lake Shore Dr Unit 9", "Chicago", "IL", "60611", ""),
        (8, "Bill", "", "Baker", "1955-09-09", "P.O. Box 77", "Urbana", "IL", "61801", ""),
        (9, "Paula", "", "Novak", "1980-01-01", "3 Fir St", "Joliet", "IL", "60431", ""),
        (10, "Zed", "", "Nobody", "", "1 Nowhere Rd", "X", "IL", "00001", ""),
    ]
    frame = request_frame(rows)
    linker = DuckDBLinker(index_path, LinkageConfig())
    try:
        batch = linker.link(frame, today=TODAY)
    finally:
        linker.close()
    online = OnlineMatcher(index_path, LinkageConfig()).decide(frame, today=TODAY)
    assert online.sort("rid").select(DECISION).equals(batch.decisions.sort("rid").select(DECISION))
    outcomes = dict(zip(online["rid"], online["outcome"], strict=True))
    assert (outcomes[1], outcomes[3], outcomes[4], outcomes[5], outcomes[9], outcomes[10]) == (
        "match", "ambiguous", "ambiguous", "match", "no_match", "no_match",
    )  # fmt: skip
    assert outcomes[2] != "match"


def test_the_model_parameters_are_the_ones_the_batch_reads_from_the_index(
    synth: Synth, matcher: OnlineMatcher, tmp_path: Path
) -> None:
    linker = DuckDBLinker(synth.index, LinkageConfig())
    try:
        assert matcher.model == linker.parameters
    finally:
        linker.close()
    assert (matcher.model.m, matcher.model.u) == (synth.batch.m, synth.batch.u)
    old = _altered_copy(synth.index, tmp_path / "without-m.duckdb", "DROP TABLE m_probabilities")
    with pytest.raises(StoreError, match="lacks m_probabilities"):
        OnlineMatcher(old, LinkageConfig())


def test_an_index_without_online_tables_says_to_load_the_master_again(
    index_path: Path, tmp_path: Path
) -> None:
    old = _altered_copy(index_path, tmp_path / "old.duckdb", "DROP TABLE online_meta")
    with pytest.raises(StoreError, match="master load"):
        OnlineMatcher(old, LinkageConfig())
    with pytest.raises(StoreError, match="no matching index"):
        OnlineMatcher(tmp_path / "missing.duckdb", LinkageConfig())


@pytest.mark.parametrize("in_python", [True, False], ids=["python", "duckdb"])
def test_request_keys_hash_as_the_index_side_hashes_typed_columns(in_python: bool) -> None:
    # the index side casts its typed columns (DATE, INTEGER, VARCHAR) to VARCHAR in SQL;
    # the request side sends Python values: both must give the same 64-bit hash
    con = duckdb.connect()
    con.execute("CREATE TABLE m (d DATE, y INTEGER, s VARCHAR)")
    con.execute(
        "INSERT INTO m VALUES (DATE '1980-01-02', 1980, 'GARCIA'), (DATE '2001-12-31', 7, 'O''NEIL-MUÑOZ')"
    )
    index_side = [
        h for (h,) in con.execute(f"SELECT {key_hash_sql(['d', 'y', 's'])} FROM m ORDER BY y DESC").fetchall()
    ]
    two = [h for (h,) in con.execute(f"SELECT {key_hash_sql(['s', 'd'])} FROM m ORDER BY y DESC").fetchall()]
    hasher = KeyHasher(in_python=in_python)
    assert hasher.in_python is in_python
    keys = [[date(1980, 1, 2), 1980, "GARCIA"], [date(2001, 12, 31), 7, "O'NEIL-MUÑOZ"]]
    assert hasher.hashes(keys) == index_side
    assert hasher.hashes([[k[2], k[0]] for k in keys]) == two
    assert len({*index_side, *two}) == 4  # the parts' order and count matter
    assert hasher.hashes([CANARY_KEY]) == [canary_hash(con)]
    assert hasher.hashes([]) == []
    with pytest.raises(ValueError, match="at most 3"):
        hasher.hashes([[1, 2, 3, 4]])


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=60),
            ),
            min_size=1,
            max_size=3,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_the_python_hash_is_duckdbs_hash(keys: list[list[str | None]]) -> None:
    # any text but NUL (hypothesis leaves out surrogates: DuckDB's VARCHAR is UTF-8), NULL parts
    padded = [[*k, *[None] * (3 - len(k))] for k in keys]
    assert KeyHasher(in_python=False).hashes(keys) == [python_key_hash(k) for k in padded]


def test_a_python_hash_that_disagrees_with_duckdb_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from custodes.link import online

    monkeypatch.setattr(online, "_text_hash", lambda part: 0 if part == "" else 1)  # a DuckDB that changed
    hasher = KeyHasher()
    assert not hasher.in_python
    keys = [["GARCIA", "1980-01-02"], ["", None]]
    assert hasher.hashes(keys) == KeyHasher(in_python=False).hashes(keys)


def test_an_index_hashed_by_another_duckdb_hash_function_is_refused(index_path: Path, tmp_path: Path) -> None:
    other = _altered_copy(index_path, tmp_path / "other.duckdb", "UPDATE online_meta SET canary = canary + 1")
    with pytest.raises(StoreError, match="hash function differs"):
        OnlineMatcher(other, LinkageConfig())


def test_a_single_subject_is_decided_in_milliseconds(synth: Synth, matcher: OnlineMatcher) -> None:
    # a micro run at 20k persons; the 1M figures come from `custodes bench online`
    subjects = read_requests(synth.index.parent / "data" / "requests.csv").head(100).to_dicts()
    for subject in subjects[:20]:
        matcher.decide_one(subject, today=TODAY)
    seconds = []
    for subject in subjects:
        started = time.perf_counter()
        matcher.decide_one(subject, today=TODAY)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    p50, p99 = seconds[len(seconds) // 2], seconds[int(len(seconds) * 0.99)]
    print(json.dumps({"decide_one_p50_ms": round(p50 * 1e3, 2), "decide_one_p99_ms": round(p99 * 1e3, 2)}))
    # generous: the machine running the suite is shared; a scan of the master would take seconds
    assert p50 < 0.25


def test_a_hit_at_an_address_over_the_household_limit_is_a_candidate_once(tmp_path: Path) -> None:
    """An address with more taxpayers than HOUSEHOLD_LIMIT (a shelter, a care home) forms no
    household (synth never makes one): its residents are candidates only as the rules find
    them, each once, in the batch SQL as in the online engine; a household under the limit
    still brings its members."""
    from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows

    firsts = ["Rosa", "Abel", "Bea", "Cruz", "Dina", "Emil", "Fern", "Gil", "Hana", "Ivo", "Juno", "Kai"]
    shelter = [
        (f"9{n:08d}", firsts[n % len(firsts)], "", f"Delgado{'' if n == 0 else n}", f"19{50 + n}-02-02",
         "1 Shelter Way", "Springfield", "IL", "62701", 2024)
        for n in range(HOUSEHOLD_LIMIT + 5)
    ]  # fmt: skip
    master = pl.DataFrame(MASTER_ROWS + filler_rows(1000) + shelter, schema=COLUMNS, orient="row")
    master = master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year")
    index = tmp_path / "master.duckdb"
    build_index(master, index, today=TODAY)
    frame = request_frame([
        (1, "Rosa", "", "Delgado", "1950-02-02", "1 Shelter Way", "Springfield", "IL", "62701", ""),
        (2, "John", "Q", "Smith", "", "12 Elm St", "Springfield", "IL", "62701", ""),
    ])  # fmt: skip
    prepared = prepare_people(frame, today=TODAY)
    linker = DuckDBLinker(index, LinkageConfig())
    try:
        with linker._candidate_pairs(prepared):
            pairs = linker._con.execute("SELECT rid, pid FROM pairs").fetchall()
        batch = linker.candidate_levels(prepared)
        decided = linker.link(frame, today=TODAY).decisions.sort("rid")
    finally:
        linker.close()
    con = duckdb.connect(str(index), read_only=True)
    try:
        unhoused = con.execute("SELECT count(*) FROM online_persons WHERE household IS NULL").fetchall()[0][0]
    finally:
        con.close()
    assert unhoused == HOUSEHOLD_LIMIT + 5
    assert len(pairs) == len(set(pairs))
    tins = batch.filter(pl.col("rid") == 1)["tin"].to_list()
    # the rules find residents by house number and ZIP (a block of 35 is under the block
    # size); each is a candidate once, none twice through a household
    assert tins.count("900000000") == 1
    assert len(tins) == len(set(tins))
    # John Smith's household (father and son of one name at one address) is still brought in
    assert {"123456789", "223456789"} <= set(batch.filter(pl.col("rid") == 2)["tin"])
    online = OnlineMatcher(index, LinkageConfig()).candidate_levels(prepared)
    order = ["rid", "tin"]
    assert online.sort(order).equals(batch.select(online.columns).sort(order).cast(online.schema))
    assert decided["outcome"].to_list() == ["match", "ambiguous"]
    assert decided["tin"].to_list() == ["900000000", None]
