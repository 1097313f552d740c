"""The DuckDB engine: candidate generation and comparison as SQL over the matching index."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from custodes.config import LinkageConfig
from custodes.errors import StoreError
from custodes.link.comparisons import DOB_COMPATIBLE
from custodes.link.decide import DECIDE_COLUMNS, CandidateScorer, decide_outcomes
from custodes.link.features import pair_levels_sql
from custodes.link.keys import canary_hash, check_online_tables, keyed_hits_sql
from custodes.link.model import LevelTable, ModelParameters, load_parameters
from custodes.link.prepare import first_key_rows, name_key_rows, prepare_people, surname_rows
from custodes.link.sql import query_frame

Progress = Callable[[str], None]

LINK_CHUNK = 250_000
"""Most requests blocked and compared at a time: bounds DuckDB's join memory on big batches.
The parts are made even (``part_starts``). Each request's candidates depend on that request
alone, so the chunking changes nothing."""

LINK_MEMORY_LIMIT: str | None = "3GB"
"""DuckDB's memory limit while linking (None: DuckDB's default, 80% of the machine's memory).

Each part reads the taxpayers' rows from the index's own tables, and DuckDB keeps the blocks
it read in memory until its limit presses (1.8 GB of them at 10M persons): without a limit
the 10M verify peaked at 8.4 GiB. The joins spill past the limit into a temporary directory
of the linker's own.
"""

PAIR_FILTER = f"(r.tin9 = m.tin9 OR {DOB_COMPATIBLE})"
"""Candidate pairs kept for comparison: the same TIN, or dates of birth one person could have."""

LEVELS_SQL = pair_levels_sql(
    "pairs", "req", "online_persons", "online_addresses", extra=("tf_first", "tf_last", "tf_addr")
)
"""The comparison levels of every pair in the temporary table ``pairs`` (rid, pid), with the
candidate's term frequencies (stored with each taxpayer in ``online_persons``)."""

HOUSEHOLD_PAIRS_SQL = f"""
    WITH found AS (
      SELECT h.rid, p.pid, p.tin9, p.dob_s, p.dob_d, p.household
      FROM hits h JOIN online_persons p ON p.pid = h.pid
    ),
    homes AS (
      SELECT DISTINCT rid, household FROM found WHERE household IS NOT NULL
    ),
    everyone AS (
      SELECT rid, pid, tin9, dob_s, dob_d FROM found
      UNION ALL
      SELECT h.rid, p.pid, p.tin9, p.dob_s, p.dob_d
      FROM homes h JOIN online_persons p ON p.household = h.household
    )
    SELECT DISTINCT m.rid, m.pid
    FROM everyone m JOIN req r ON r.rid = m.rid
    WHERE {PAIR_FILTER}
"""
"""The candidate pairs (rid, pid) of the hits in ``hits``: each hit, and every co-resident of
one (a household of at most ``HOUSEHOLD_LIMIT`` taxpayers: ``online_persons.household`` is
NULL above it), less the pairs whose dates of birth contradict each other."""

LEVEL_BATCH_ROWS = 262_144
"""Candidate pairs taken from DuckDB at a time while a part's levels stream into the scorer.
Streamed, a part's levels are never whole in memory: at 10M persons a part of 250k requests
has some 8 million candidates, about 1.5 GB of levels as a polars frame and 2-3 times that
on its way from DuckDB."""


def part_starts(rows: int, most: int) -> range:
    """Where each part of ``rows`` requests starts, in parts of at most ``most`` rows and as
    even as they can be (the step is the part size): 1.28M requests in parts of at most 250k
    are six parts of 213,334 rather than five of 250k and one of 30k. A part's memory grows
    with its size, and the number of parts (each has a fixed cost) is the least there can be.
    """
    count = max(1, -(-rows // max(most, 1)))
    return range(0, rows, max(1, -(-rows // count)))


def request_tables(prepared: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The request-side tables the blocking rules join on (``BlockingRule.request_table``)."""
    req_surnames = surname_rows(prepared, "rid", extra=("zip5", "city_std"))
    return {
        "req": prepared.with_columns(
            pl.col("tin9").str.slice(0, 5).alias("tin_head"),
            pl.col("tin9").str.slice(4, 5).alias("tin_tail"),
        ),
        "req_surnames": req_surnames,
        "req_firsts": first_key_rows(prepared, "rid"),
        # the given name written where the surname goes (JOSELYN DAKIN as DAKIN JOSELYN)
        "req_swapped": prepared.select("rid", pl.col("first_tok").alias("token"), "dob_d").drop_nulls(
            "token"
        ),
        "req_name_keys": name_key_rows(req_surnames),
    }


def request_rows(prepared: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``request_tables`` on Python values, for the online path's few requests.

    ``prepared`` holds the prepared rows as ``DataFrame.to_dicts`` gives them; each table
    comes back as ``request_tables(frame)[name].to_dicts()`` would (an exploded empty or
    null list gives no row, as polars' explode + drop_nulls does).
    ``tests/link/test_online.py`` holds the two equal.
    """
    req: list[dict[str, Any]] = []
    surnames: list[dict[str, Any]] = []
    firsts: list[dict[str, Any]] = []
    swapped: list[dict[str, Any]] = []
    name_keys: list[dict[str, Any]] = []
    for row in prepared:
        tin9 = row["tin9"]
        req.append(
            {
                **row,
                "tin_head": None if tin9 is None else tin9[:5],
                "tin_tail": None if tin9 is None else tin9[4:9],
            }
        )
        rid, dob_d, first_keys = row["rid"], row["dob_d"], row["first_keys"] or ()
        for token in row["last_all"] or ():
            if token is None:
                continue
            surname = {"rid": rid, "token": token, "dob_d": dob_d, "birth_year": row["birth_year"]}
            rest = {"initial": row["initial"], "zip5": row["zip5"], "city_std": row["city_std"]}
            surnames.append({**surname, "first_keys": row["first_keys"], **rest})
            name_keys.extend({**surname, "fkey": fkey, **rest} for fkey in first_keys if fkey is not None)
        firsts.extend({"rid": rid, "fkey": fkey, "dob_d": dob_d} for fkey in first_keys if fkey is not None)
        if row["first_tok"] is not None:
            swapped.append({"rid": rid, "token": row["first_tok"], "dob_d": dob_d})
    return {
        "req": req,
        "req_surnames": surnames,
        "req_firsts": firsts,
        "req_swapped": swapped,
        "req_name_keys": name_keys,
    }


@dataclass(frozen=True)
class LinkResult:
    """Decisions for prepared requests, and what the model used."""

    decisions: pl.DataFrame
    candidates: int
    m: LevelTable
    u: LevelTable
    prior: float


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


class DuckDBLinker:
    """Links request subjects to taxpayers in a DuckDB matching index."""

    def __init__(self, index_path: Path, config: LinkageConfig) -> None:
        if not index_path.exists():
            raise StoreError(f"no matching index at {index_path}: run `custodes master load FILE` first")
        self._con = duckdb.connect(str(index_path), read_only=True)
        self._spill: weakref.finalize[[str], DuckDBLinker] | None = None
        try:
            # the caller's bar shows the stages; DuckDB's own would print into it (and into logs)
            self._con.execute("SET enable_progress_bar = false")
            if LINK_MEMORY_LIMIT is not None:
                spill = tempfile.mkdtemp(prefix="custodes-link-")
                # removed by close(), or when the linker is collected unclosed
                self._spill = weakref.finalize(self, _remove_tree, spill)
                self._con.execute(f"SET memory_limit = '{LINK_MEMORY_LIMIT}'")
                self._con.execute("SET temp_directory = ?", [spill])
            check_online_tables(self._con, index_path, canary_hash(self._con))
            # the taxpayer tables' files, which the online tables were built from: an index
            # whose build directory is gone or damaged is refused, not half used
            self._con.execute("SELECT 1 FROM persons LIMIT 1").fetchall()
            self._con.execute("SELECT 1 FROM online_persons LIMIT 1").fetchall()
        except StoreError:
            self.close()
            raise
        except duckdb.Error as exc:
            self.close()
            raise StoreError(
                f"the matching index at {index_path} cannot read its tables ({exc}): "
                "run `custodes master load FILE` again"
            ) from exc
        self._config = config
        try:
            self.parameters: ModelParameters = load_parameters(self._con)
        except StoreError:
            self.close()
            raise
        self.taxpayers = self.parameters.taxpayers

    def close(self) -> None:
        """Release the index file (and the spill directory)."""
        self._con.close()
        if self._spill is not None:
            self._spill()

    def candidate_levels(self, prepared: pl.DataFrame) -> pl.DataFrame:
        """Comparison levels for every candidate pair of the prepared requests."""
        with self._candidate_pairs(prepared):
            return query_frame(self._con, LEVELS_SQL)

    def candidate_level_batches(self, prepared: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
        """``candidate_levels`` in batches of at most ``rows`` pairs, in no particular order.

        At least one batch (perhaps empty, with the levels' columns) comes. The connection
        is busy until the last batch has been taken.
        """
        with self._candidate_pairs(prepared):
            reader = self._con.sql(LEVELS_SQL).to_arrow_reader(rows)
            yielded = False
            for batch in reader:
                yielded = True
                yield pl.DataFrame(pl.from_arrow(batch))
            if not yielded:
                yield pl.DataFrame(pl.from_arrow(reader.schema.empty_table()))

    @contextmanager
    def _candidate_pairs(self, prepared: pl.DataFrame) -> Iterator[None]:
        """The temporary table ``pairs`` (rid, pid) of the prepared requests, and their tables as views.

        The blocking rules' keys are looked up in ``online_keys`` (integer hashes, written
        at master load from the same rules and index tables; ``custodes.link.keys``), and
        households through ``online_persons.household``: integer joins where the rules'
        own joins on text keys took about 1.7 times as long (10M persons, a part of 213k
        requests: 5.0 against 8.4 s for the hits, 8.8 against 13.2 s for the pairs).
        """
        con = self._con
        views = request_tables(prepared)
        for name, frame in views.items():
            con.register(name, frame.to_arrow())
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE hits AS {keyed_hits_sql()}")
            # every co-resident of a candidate is a rival too: a twin, a parent or a child
            # at the same address must be seen before anyone is chosen; then pairs whose
            # dobs contradict each other (and whose TINs differ) are dropped: such a
            # candidate can be neither the match nor a plausible rival, and comparing it
            # in full is most of the cost
            con.execute(f"CREATE OR REPLACE TEMP TABLE pairs AS {HOUSEHOLD_PAIRS_SQL}")
            con.execute("DROP TABLE hits")
            yield
        finally:
            for name in views:
                con.unregister(name)

    def link(
        self,
        requests: pl.DataFrame,
        *,
        today: date | None = None,
        progress: Progress | None = None,
        prepared: pl.DataFrame | None = None,
    ) -> LinkResult:
        """Decide every request in ``requests`` (an ``rid`` column plus person fields + tin).

        ``prepared``: ``prepare_people`` of these requests (by ``rid``) with the same
        ``today``, when the caller has it already (the gateway normalises a batch's subjects
        once, for the query budgets and the linkage). It may hold rows of other requests too
        (those the budgets refused since): each part is cut down to ``requests``' rows as it
        is linked, so the whole is not copied.
        """
        say = progress or (lambda _msg: None)
        wanted: pl.Series | None = None
        if prepared is None:
            say("normalising request subjects")
            prepared = prepare_people(requests, today=today)
        else:
            say("request subjects normalised already (with the query budgets)")
            rids = requests.get_column("rid")
            if prepared.height != rids.len() or not prepared.get_column("rid").equals(rids):
                wanted = rids
        parts = part_starts(prepared.height, LINK_CHUNK)
        size = parts.step
        # one message whatever the number of parts: the caller's bar counts stages
        say(f"finding candidates, comparing fields, scoring and deciding ({max(len(parts), 1)} part(s))")
        params = self.parameters
        prior = self._config.prior_on_file
        # each part is scored and decided as soon as it is compared, and only its decisions
        # are kept: at 10M persons / 1.28M requests, holding every part's candidate levels
        # until the end took verify past 24 GiB
        decided: list[pl.DataFrame] = []
        candidates = 0
        for start in parts or range(1):
            part = prepared.slice(start, size)
            if wanted is not None:
                part = part.filter(pl.col("rid").is_in(wanted.implode()))
            found, count = self._decide_part(part)
            decided.append(found)
            candidates += count
        say("collecting the decisions")
        everyone = requests.select("rid")
        decisions = everyone.join(pl.concat(decided), on="rid", how="left", maintain_order="left")
        return LinkResult(decisions=decisions, candidates=candidates, m=params.m, u=params.u, prior=prior)

    def _decide_part(self, part: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """The decisions on a part's requests, and how many candidates they had.

        The levels stream in and only what the decision reads is kept of them.
        """
        params = self.parameters
        suffixed = part.filter(pl.col("suffix").is_not_null()).get_column("rid")
        scorer = CandidateScorer(params.m, params.u, suffixed=suffixed, columns=DECIDE_COLUMNS)
        for levels in self.candidate_level_batches(part, LEVEL_BATCH_ROWS):
            scorer.add(levels)
            del levels
        scored = scorer.scored(taxpayers=params.taxpayers, prior=self._config.prior_on_file)
        return decide_outcomes(scored, part.get_column("rid"), self._config), scorer.rows
