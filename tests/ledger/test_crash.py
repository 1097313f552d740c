"""Crash safety: SIGKILL a process at random points while it appends large batches.

After every kill the next process starts from what was committed: no batch is half in,
no checkpoint covers entries that are not stored, and at the end the audit passes. The
same on SQLite and on a real PostgreSQL server, where the killed client's server process
must notice the lost connection and roll its transaction back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from custodes.ledger import LedgerKeys, append_batch, audit_log, latest_checkpoint, store
from custodes.store import connect

from .conftest import batch_entry, decision

KILLS = 16
BATCH = 5_000


def _append_forever(url: str, keys: LedgerKeys, round_: int, ready: int) -> None:
    """The child: append batch after batch until killed."""
    engine = connect(url)
    with engine.connect():  # connected (and kept in the pool) before the clock starts
        pass
    os.write(ready, b"r")
    for n in range(1_000_000):
        name = f"K{round_}-{n}"
        with engine.begin() as conn:
            append_batch(conn, keys, batch_entry(name), (decision(name, i) for i in range(BATCH)))


def _kill_during_append(url: str, keys: LedgerKeys, round_: int, delay: float) -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns, it is killed
        try:
            os.close(read)
            _append_forever(url, keys, round_, write)
        finally:
            os._exit(1)
    os.close(write)
    assert os.read(read, 1) == b"r"
    os.close(read)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), "the appender stopped before it was killed"


def _wait_for_the_killed_session(url: str) -> None:
    """On PostgreSQL, wait until the server has ended the killed client's session.

    Until then its transaction is still open (or, had COMMIT already been sent, about to
    commit), so what it leaves behind is final only once its server process is gone.
    """
    if not url.startswith("postgresql"):
        return
    engine = connect(url)
    try:
        deadline = time.monotonic() + 30
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                others = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalar_one()
                conn.rollback()
                if others == 0:
                    return
                time.sleep(0.05)
        raise AssertionError("the killed client's PostgreSQL session did not end within 30 s")
    finally:
        engine.dispose()


def _batches_are_whole(
    url: str, keys: LedgerKeys, seen: int, decisions: Counter[str], seals: dict[str, int]
) -> int:
    """Check the entries appended since ``seen``: whole batches, matched by the checkpoint."""
    engine = connect(url)
    try:
        with store.snapshot(engine) as conn:
            entries = [json.loads(data) for _, data in store.entry_range(conn, seen, 1 << 62)]
            count = conn.execute(select(func.count()).select_from(store.entries)).scalar_one()
            size = latest_checkpoint(conn, keys.origin).size if count else 0
            head = store.head_size(conn)
    finally:
        engine.dispose()
    decisions.update(e["batch_id"] for e in entries if e["type"] == "decision")
    seals.update({e["batch_id"]: e["decisions"] for e in entries if e["type"] == "batch"})
    assert decisions == Counter(seals), "a batch is half in"
    assert set(seals.values()) <= {BATCH}
    assert count == size == head, "a checkpoint and the stored entries disagree"
    return int(count)


@pytest.mark.usefixtures("engine")  # a migrated store
def test_sigkill_at_random_points_never_leaves_a_half_batch(store_url: str, keys: LedgerKeys) -> None:
    rng = random.Random(20261125)
    # Time one batch here (slow machines, coverage), then kill anywhere in about two.
    engine = connect(store_url)
    started = time.perf_counter()
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("first"), (decision("first", i) for i in range(BATCH)))
    batch_seconds = first_batch_seconds = time.perf_counter() - started
    engine.dispose()
    sizes = [0]
    decisions: Counter[str] = Counter()
    seals: dict[str, int] = {}
    for round_ in range(KILLS):
        # Anywhere in a batch's life: encoding, inserting, hashing, signing, committing.
        _kill_during_append(store_url, keys, round_, rng.uniform(0.0, 2 * batch_seconds))
        _wait_for_the_killed_session(store_url)
        sizes.append(_batches_are_whole(store_url, keys, sizes[-1], decisions, seals))
        if sizes[-1] == sizes[-2]:
            # nothing committed: on a machine busier than when the batch was timed, a batch
            # takes longer than measured, so later kills come later (at most 4 times as late)
            batch_seconds = min(batch_seconds * 1.25, 4 * first_batch_seconds)
    assert sizes == sorted(sizes)
    assert len(seals) >= 4, "too few batches committed between kills to test anything"
    engine = connect(store_url)
    with store.snapshot(engine) as conn:
        result = audit_log(conn, keys.verifier)
    engine.dispose()
    assert result.ok, result.problem
    assert result.entries == sizes[-1]
