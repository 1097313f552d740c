"""What the gateway asks oversight about one batch: suspensions, budgets, the policy in force.

The gateway creates one ``BatchOversight`` per batch, passes its suspended bases to the
batch-level legal check, lets it screen eligible rows against the query budgets, and has it
record (inside the batch's transaction) the policy version, the master file and the
budgeted queries. A suspension recorded while the batch was being processed holds it.

**The budgets under concurrency.** A batch is screened before it is linked, outside the
transaction that records it, so another writer (a second server process, the batch worker
beside the online verifications) may record queries of the same agency in between. The
recording transaction therefore inserts its rows, takes the log's lock
(``custodes.ledger.store.lock_head``) and calls ``confirm``: when anything was appended since
the screen, the budgets are checked again on the locked connection, leaving out the rows just
inserted, and if the refusals changed the caller rolls back, decides the batch again under
the lock and records it. Budgets thus count exactly as if the writers had run one after
another.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import polars as pl
from sqlalchemy import Connection, Engine, insert, select, update

from custodes.config import Settings
from custodes.contract.manifest import Manifest
from custodes.frames import column_rows
from custodes.ledger.store import head_size
from custodes.oversight.budgets import (
    QUERY_VALUES,
    BudgetCheck,
    check_budgets,
    record_queries,
    record_query_rows,
)
from custodes.oversight.policy import (
    current_master_sha256,
    record_batch_policies,
    register_policy,
    settings_policy,
)
from custodes.oversight.suspension import HELD_STATUS, UNRELEASED_STATUSES, active_suspensions
from custodes.oversight.tables import holds
from custodes.store.bulk import JSON_MIN_ROWS
from custodes.store.schema import batches

IN_FORCE = "in force"
"""The name a policy gets when a batch is first decided under it."""


class BatchOversight:
    """Oversight's part in deciding and recording one batch."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        manifest: Manifest,
        now: datetime,
        *,
        locked: Connection | None = None,
    ) -> None:
        """``locked``: read through this connection (one that holds the store's write lock when
        deciding again inside a recording transaction, after ``confirm`` failed; else the
        connection an online part is decided on)."""
        self._engine = engine
        self._settings = settings
        self._manifest = manifest
        self._now = now
        self._locked = locked
        self._budget: BudgetCheck | None = None
        self._screened: tuple[pl.DataFrame, pl.Series, pl.DataFrame | None] | None = None
        self._log_size: int | None = None
        self._suspended_at_start = False
        self.policy_version = settings_policy(settings)[1]

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if self._locked is not None:
            yield self._locked
            return
        with self._engine.connect() as conn:
            yield conn

    def suspended_bases(self) -> frozenset[str]:
        """The bases suspended for this batch's agency and basis, for ``check_batch``."""
        with self._reading() as conn:
            found = active_suspensions(conn, self._manifest.agency, self._manifest.legal_basis)
        self._suspended_at_start = bool(found)
        return frozenset({self._manifest.legal_basis}) if found else frozenset()

    def screen(
        self, frame: pl.DataFrame, refused: pl.Series, prepared: pl.DataFrame | None = None
    ) -> pl.Series:
        """Query-budget refusals for the rows the legal checks let through (``prepared``: those
        rows already prepared for linkage, see ``check_budgets``)."""
        with self._reading() as conn:
            # read before the history: a write in between shows as a moved log (see ``confirm``)
            self._log_size = head_size(conn) if self._settings.accounting else None
            self._budget = self._check(conn, frame, refused, prepared)
        self._screened = (frame, refused, prepared)
        return self._budget.refusals

    def _check(
        self,
        conn: Connection,
        frame: pl.DataFrame,
        refused: pl.Series,
        prepared: pl.DataFrame | None,
        exclude: frozenset[str] = frozenset(),
    ) -> BudgetCheck:
        return check_budgets(
            conn, self._settings.budgets, agency=self._manifest.agency, frame=frame, refused=refused,
            now=self._now, prepared=prepared, exclude=exclude,
        )  # fmt: skip

    def confirm(self, conn: Connection, log_size: int | None, exclude: frozenset[str] = frozenset()) -> bool:
        """Whether the screen's refusals still hold, inside the recording transaction.

        ``conn`` holds the store's write lock and ``log_size`` is the tree size it locked
        (None: something this transaction already recorded may count, so check again). When
        the log has not moved since the screen, nothing can have changed the agency's
        history; otherwise the budgets are checked again on ``conn``, leaving out the batches
        in ``exclude`` (the ones being confirmed, when they are recorded already in this
        transaction). True: the decisions stand. False: the refusals differ, and the caller
        must decide again under the lock (and record nothing of this decision).
        """
        if self._screened is None or self._budget is None:
            return True
        if log_size is not None and self._log_size is not None and log_size == self._log_size:
            return True
        fresh = self._check(conn, *self._screened, exclude=exclude)
        # the queries too: the same refusal may now be another budget's (``budget`` column)
        return fresh.refusals.equals(self._budget.refusals) and fresh.queries.equals(self._budget.queries)

    def ledger_fields(self) -> dict[str, object]:
        """Fields oversight adds to the batch's ledger entry."""
        return {"policy_version": self.policy_version}

    def record(self, conn: Connection) -> None:
        """Record the policy, the budgeted queries and any late hold, in the batch's transaction."""
        self.record_parts(conn, [(self._manifest, None)])

    def record_parts(self, conn: Connection, parts: Sequence[tuple[Manifest, int | None]]) -> None:
        """``record`` for a group decided together but stored as separate batches.

        Each part is a batch's manifest and the row of the decided frame it holds (None: every
        row). The online service decides the verifications that arrive together as one frame
        (``Gateway.verify_subject``) and stores each as its own one-row batch.
        """
        register_policy(conn, self._settings, IN_FORCE, self._now)
        master = current_master_sha256(conn)
        late = (
            []
            if self._suspended_at_start
            else active_suspensions(conn, self._manifest.agency, self._manifest.legal_basis)
        )
        record_batch_policies(
            conn,
            [(m.agency, m.batch_id) for m, _ in parts],
            version=self.policy_version,
            master_sha256=master,
        )
        if late and self._settings.oversight.hold_unreleased:
            for manifest, _ in parts:
                self._hold(conn, manifest, late[0].id)
        if self._budget is None:
            return
        queries = self._budget.queries
        if parts[0][1] is None:
            record_queries(conn, parts[0][0].agency, parts[0][0].batch_id, self._now, queries)
            return
        if queries.is_empty():
            return
        # one row of the decided frame per part: each becomes row 1 of its own batch
        if queries.height < JSON_MIN_ROWS:
            owner = {row: m.batch_id for m, row in parts}
            rows = [
                (owner[n], 1, r, keys, status, budget)
                for n, r, keys, status, budget in column_rows(queries, QUERY_VALUES)
                if n in owner
            ]
            record_query_rows(conn, self._manifest.agency, self._now, rows)
            return
        owners = pl.DataFrame(
            {"row_number": [row for _, row in parts], "_batch_id": [m.batch_id for m, _ in parts]},
            schema={"row_number": queries.schema["row_number"], "_batch_id": pl.Utf8},
        )
        queries = queries.join(owners, on="row_number").with_columns(
            pl.lit(1, queries.schema["row_number"]).alias("row_number")
        )
        record_queries(conn, self._manifest.agency, pl.col("_batch_id"), self._now, queries)

    def _hold(self, conn: Connection, manifest: Manifest, suspension_id: int) -> None:
        where = (batches.c.agency == manifest.agency, batches.c.batch_id == manifest.batch_id)
        previous = conn.execute(select(batches.c.status).where(*where)).scalar_one_or_none()
        if previous in UNRELEASED_STATUSES:
            conn.execute(update(batches).where(*where).values(status=HELD_STATUS))
            conn.execute(
                insert(holds).values(
                    suspension_id=suspension_id, agency=manifest.agency, batch_id=manifest.batch_id,
                    previous_status=previous, held_at=self._now,
                )
            )  # fmt: skip
