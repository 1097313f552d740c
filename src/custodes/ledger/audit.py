"""Auditing the stored log: recompute the tree from the entries and hold it to every checkpoint.

The audit trusts only the log's public key. It checks every stored checkpoint's signature,
recomputes every leaf hash, every tile and the root at every checkpointed size, and the
lookup keys of every entry, and stops at the first problem, naming the entry index where
the stored log stops being what was signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection

from custodes.ledger import store
from custodes.ledger.accounting import KINDS, EntryRow, entry_request_key, entry_taxpayer_key
from custodes.ledger.hasher import EMPTY_ROOT, HASH_SIZE, leaf_hash
from custodes.ledger.tree import TILE_HEIGHT, TILE_WIDTH, RightEdge
from custodes.ledger.verify import NoteVerifier, VerificationError, verify_checkpoint


@dataclass(frozen=True)
class AuditResult:
    """What an audit found: counts, and the first problem (if any) with its entry index."""

    entries: int
    checkpoints: int
    problem: str | None = None
    first_bad_index: int | None = None
    """The first entry index at which the stored log differs from what was signed; None when
    the problem is not about an entry (a forged checkpoint, a wrong head row)."""

    @property
    def ok(self) -> bool:
        """Whether the stored log is exactly what its checkpoints signed."""
        return self.problem is None


class _Failure(Exception):
    def __init__(self, index: int | None, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def _check_checkpoints(conn: Connection, verifier: NoteVerifier, origin: str) -> list[tuple[int, bytes]]:
    checked: list[tuple[int, bytes]] = []
    for size, root, note in store.all_checkpoint_notes(conn):
        try:
            checkpoint = verify_checkpoint(note, verifier, origin)
        except VerificationError as exc:
            raise _Failure(None, f"checkpoint of tree size {size} is not valid: {exc}") from exc
        if checkpoint.size != size or checkpoint.root_hash != root:
            raise _Failure(None, f"checkpoint of tree size {size}: its row differs from its signed note")
        if size == 0 and root != EMPTY_ROOT:
            raise _Failure(None, "the checkpoint of the empty tree has a wrong root hash")
        checked.append((size, root))
    return checked


def _check_entry(index: int, kind: int, request: int | None, taxpayer: int | None, data: bytes) -> None:
    try:
        entry = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Failure(index, f"entry {index} is not JSON") from exc
    if not isinstance(entry, dict):
        raise _Failure(index, f"entry {index} is not a JSON object")
    expected = (KINDS.get(str(entry.get("type"))), entry_request_key(entry), entry_taxpayer_key(entry))
    if (kind, request, taxpayer) != expected:
        raise _Failure(index, f"entry {index} is filed under lookup keys that do not match its content")


class _Recompute:
    """Rebuilds the tree from the entries, comparing with stored tiles and checkpoints."""

    def __init__(self, conn: Connection, checkpoints: list[tuple[int, bytes]]) -> None:
        self._conn = conn
        self._checkpoints = [(size, root) for size, root in checkpoints if size > 0]
        self._covered = self._checkpoints[-1][0] if self._checkpoints else 0
        self._next = 0
        self.edge = RightEdge(0, {})

    def add(self, rows: list[EntryRow]) -> None:
        start = 0
        while start < len(rows):
            end = len(rows)
            if self._next < len(self._checkpoints):
                end = min(end, self._checkpoints[self._next][0] - self.edge.size + start)
            self._add_run(rows[start:end])
            start = end

    def _add_run(self, rows: list[EntryRow]) -> None:
        hashes: list[bytes] = []
        first_tile = self.edge.size >> TILE_HEIGHT
        stored = store.tile_range(self._conn, 0, first_tile, (self.edge.size + len(rows)) >> TILE_HEIGHT)
        for index, kind, request, taxpayer, data in rows:
            if index != self.edge.size + len(hashes):
                missing = self.edge.size + len(hashes)
                raise _Failure(missing, f"entry {missing} is missing (deleted)")
            if index >= self._covered:
                raise _Failure(index, f"entries from {index} on are not covered by any checkpoint (inserted)")
            hashed = leaf_hash(data)
            tile = stored.get(index >> TILE_HEIGHT, b"")
            offset = (index & (TILE_WIDTH - 1)) * HASH_SIZE
            if tile[offset : offset + HASH_SIZE] != hashed:
                raise _Failure(
                    index, f"entry {index} does not match its stored leaf hash (modified or moved)"
                )
            _check_entry(index, kind, request, taxpayer, data)
            hashes.append(hashed)
        self._compare_tiles(self.edge.append(hashes))
        if self._next < len(self._checkpoints) and self.edge.size == self._checkpoints[self._next][0]:
            size, root = self._checkpoints[self._next]
            if self.edge.root() != root:
                earlier = self._checkpoints[self._next - 1][0] if self._next else 0
                raise _Failure(
                    earlier,
                    f"the entries do not hash to the signed root of tree size {size}: "
                    f"an entry in [{earlier}, {size}) was changed along with its stored hashes",
                )
            self._next += 1

    def _compare_tiles(self, tiles: list[tuple[int, int, bytes]]) -> None:
        upper = [tile for tile in tiles if tile[0] > 0]
        stored = store.read_tiles(self._conn, {(level, index) for level, index, _ in upper})
        for level, index, blob in upper:
            self._compare_tile(level, index, blob, stored.get((level, index), b""))

    @staticmethod
    def _compare_tile(level: int, index: int, blob: bytes, stored: bytes) -> None:
        if stored == blob:
            return
        position = 0
        while (
            stored[position * HASH_SIZE : (position + 1) * HASH_SIZE]
            == blob[position * HASH_SIZE : (position + 1) * HASH_SIZE]
        ):
            position += 1
        first = (index * TILE_WIDTH + position) << (TILE_HEIGHT * level)
        raise _Failure(first, f"stored tile {level}/{index} does not match the entries from {first} on")

    def finish(self) -> None:
        count = self.edge.size
        for size, _ in self._checkpoints[self._next :]:
            raise _Failure(
                count,
                f"the checkpoint of tree size {size} covers entries from {count} on that are not stored",
            )
        partial = self.edge.partial_tiles()
        stored = store.read_tiles(self._conn, {(level, index) for level, index, _ in partial})
        for level, index, blob in partial:
            self._compare_tile(level, index, blob, stored.get((level, index), b""))


def audit_log(conn: Connection, verifier: NoteVerifier, origin: str | None = None) -> AuditResult:
    """Audit the whole stored log against its signed checkpoints, with the log's public key.

    While the log may be appended to, run it on a ``store.snapshot`` connection: reads at
    different moments would see entries that no checkpoint read earlier covers.
    """
    name = verifier.name if origin is None else origin
    checkpoints: list[tuple[int, bytes]] = []
    recompute: _Recompute | None = None
    try:
        checkpoints = _check_checkpoints(conn, verifier, name)
        recompute = _Recompute(conn, checkpoints)
        for rows in store.iter_entry_rows(conn):
            recompute.add(rows)
        recompute.finish()
        head = store.head_size(conn)
        if head != recompute.edge.size:
            raise _Failure(None, f"the head row says tree size {head}, the log holds {recompute.edge.size}")
    except _Failure as failure:
        done = 0 if recompute is None else recompute.edge.size
        return AuditResult(done, len(checkpoints), failure.message, failure.index)
    return AuditResult(recompute.edge.size, len(checkpoints))
