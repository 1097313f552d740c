"""Appending to the log inside the caller's transaction: entries, tiles, head, checkpoint.

All of an append (every entry, the tiles, the head move and the signed checkpoint) is
written through the caller's connection, so it commits or rolls back as one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from itertools import islice

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from custodes.errors import LedgerError
from custodes.ledger import store
from custodes.ledger.accounting import (
    DecisionColumns,
    DecisionEncoder,
    DecisionEntry,
    EncodedDecisions,
    EncodedEntry,
    encode_mapping,
)
from custodes.ledger.checkpoint import SignedCheckpoint, sign_checkpoint
from custodes.ledger.hasher import leaf_hashes
from custodes.ledger.keys import LedgerKeys
from custodes.ledger.tree import RightEdge, TileMissingError, partial_keys, split_hashes
from custodes.store.bulk import SqliteCache

CHUNK = 16_384
"""Entries encoded, hashed and inserted per round trip."""

SMALL_APPEND = 64
"""Below this many decisions (an online group) an append leaves SQLite's page cache as it is:
two PRAGMA statements cost more than the few rows gain."""

BATCH_TYPE = "batch"
DECISION_TYPE = "decision"


class _Appender:
    def __init__(self, conn: Connection, keys: LedgerKeys, locked_size: int | None = None) -> None:
        self._conn = conn
        self._keys = keys
        self.start = store.lock_head(conn) if locked_size is None else locked_size
        wanted = {(level, index) for level, index in partial_keys(self.start).items()}
        stored = store.read_tiles(conn, wanted)
        partial = {level: split_hashes(blob) for (level, _), blob in stored.items()}
        try:
            self._edge = RightEdge(self.start, partial)
        except TileMissingError as exc:
            raise LedgerError(
                f"the log's stored tiles are damaged: {exc}; run `custodes ledger audit`"
            ) from exc
        store.delete_tiles(conn, stored.keys())

    @property
    def size(self) -> int:
        return self._edge.size

    def add(self, encoded: list[EncodedEntry]) -> None:
        base = self._edge.size
        rows = [(base + i, *row) for i, row in enumerate(encoded)]
        store.insert_entries(self._conn, rows)
        store.insert_tiles(self._conn, self._edge.append(leaf_hashes([row[3] for row in encoded])))

    def add_decisions(self, encoded: EncodedDecisions) -> None:
        store.insert_decisions(self._conn, encoded)
        store.insert_tiles(self._conn, self._edge.append(encoded.leaves))

    def finish(self) -> SignedCheckpoint:
        store.insert_tiles(self._conn, self._edge.partial_tiles())
        store.set_head(self._conn, self.start, self._edge.size)
        checkpoint = sign_checkpoint(
            self._keys.origin, self._edge.size, self._edge.root(), self._keys.signing_key
        )
        store.insert_checkpoint(self._conn, checkpoint)
        return checkpoint


def _encoded_chunks(
    encoder: DecisionEncoder, decisions: DecisionColumns | Iterable[DecisionEntry], first_index: int
) -> Iterator[EncodedDecisions]:
    index = first_index
    if isinstance(decisions, DecisionColumns):
        for start in range(0, len(decisions), CHUNK):
            yield encoder.encode_columns(decisions.rows(start, start + CHUNK), index + start)
        return
    iterator = iter(decisions)
    while chunk := list(islice(iterator, CHUNK)):
        yield encoder.encode(chunk, index)
        index += len(chunk)


def append_batch(
    conn: Connection,
    keys: LedgerKeys,
    batch_entry: Mapping[str, object],
    decisions: DecisionColumns | Iterable[DecisionEntry],
) -> SignedCheckpoint:
    """Append every decision of a batch, then the batch's own entry, and sign a checkpoint.

    ``decisions`` come as columns (the gateway's form, the fastest) or one object each,
    streamed in chunks. Runs inside the caller's transaction: either all of it is stored or
    none. The batch entry (manifest hash, signer, agency, batch id, ...) must hold
    ``batch_id``; the ledger adds ``decisions`` (how many) and ``first_index`` (where they
    start), so the batch entry seals the batch.
    """
    return append_batches(conn, keys, [(batch_entry, decisions)])


def append_batches(
    conn: Connection,
    keys: LedgerKeys,
    batches: Sequence[tuple[Mapping[str, object], DecisionColumns | Iterable[DecisionEntry]]],
    *,
    locked_size: int | None = None,
) -> SignedCheckpoint:
    """Append several batches, each as ``append_batch`` does, under one signed checkpoint.

    The online service commits the verifications that arrive together in one transaction
    (group commit): each stays its own sealed batch, and one checkpoint covers them all.
    ``locked_size``: the tree size ``store.lock_head`` returned earlier in this transaction,
    with nothing appended since (the head is then not locked and read a second time). A wrong
    size cannot fork the log: the stored tiles or the head's compare-and-swap refuse it with
    ``LedgerError``, and the caller's transaction writes nothing.
    """
    if not batches:
        raise LedgerError("nothing to append: no batch given")
    encoders = []
    for batch_entry, _ in batches:
        batch_id = batch_entry.get("batch_id")
        if not isinstance(batch_id, str):
            raise LedgerError("the batch entry needs a string batch_id")
        # Check the caller's fields now, before a million decisions are written.
        encode_mapping(batch_entry, keys.custodian_secret, BATCH_TYPE, {"decisions": 0, "first_index": 0})
        encoders.append(DecisionEncoder(keys.custodian_secret, batch_id))
    small = all(isinstance(d, DecisionColumns) for _, d in batches) and (
        sum(len(d.request_ids) for _, d in batches if isinstance(d, DecisionColumns)) < SMALL_APPEND
    )
    with nullcontext() if small else SqliteCache(conn):
        try:
            appender = _Appender(conn, keys, locked_size)
            for (batch_entry, decisions), encoder in zip(batches, encoders, strict=True):
                first = appender.size
                for encoded in _encoded_chunks(encoder, decisions, first):
                    appender.add_decisions(encoded)
                seal = {"decisions": appender.size - first, "first_index": first}
                appender.add([encode_mapping(batch_entry, keys.custodian_secret, BATCH_TYPE, seal)])
            return appender.finish()
        except IntegrityError as exc:
            raise LedgerError("another process appended to the log at the same time; retry") from exc


def append_event(conn: Connection, keys: LedgerKeys, entry: Mapping[str, object]) -> SignedCheckpoint:
    """Append one act that is not a batch (a suspension, a release, ...) and sign a checkpoint.

    ``entry`` must name its kind in ``event`` (for example ``"suspension"``); a ``tin`` key
    is replaced by the taxpayer commitment. Runs inside the caller's transaction.
    """
    kind = entry.get("event")
    if not isinstance(kind, str) or not kind or kind in {BATCH_TYPE, DECISION_TYPE}:
        raise LedgerError("an event entry needs an 'event' string naming its kind (not batch or decision)")
    encoded = encode_mapping(entry, keys.custodian_secret, "event", {})
    try:
        appender = _Appender(conn, keys)
        appender.add([encoded])
        return appender.finish()
    except IntegrityError as exc:
        raise LedgerError("another process appended to the log at the same time; retry") from exc
