"""The log's tables in the operational store, and every read and write of them.

Tables live on the shared ``custodes.store.schema.metadata``; Alembic migration 0002
creates them. Entries and tiles are bulk-inserted with ``executemany`` through the
driver (bound parameters only; table and column names come from this module).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Row,
    SmallInteger,
    String,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError

from custodes.errors import LedgerError
from custodes.ledger.accounting import EncodedDecisions, EntryRow
from custodes.ledger.checkpoint import SignedCheckpoint
from custodes.ledger.tree import Node, TileKey, nodes_from_tiles
from custodes.store.schema import metadata

# SQLite makes only INTEGER PRIMARY KEY the rowid; BIGINT would add a second index.
_LeafIndex = BigInteger().with_variant(Integer(), "sqlite")

entries = Table(
    "ledger_entries",
    metadata,
    Column("idx", _LeafIndex, primary_key=True, autoincrement=False),
    Column("kind", SmallInteger, nullable=False),
    Column("request_key", BigInteger),
    Column("taxpayer_key", BigInteger),
    Column("data", LargeBinary, nullable=False),
    Index(
        "ix_ledger_entries_request_key",
        "request_key",
        sqlite_where=text("kind <> 0"),
        postgresql_where=text("kind <> 0"),
    ),
    Index(
        "ix_ledger_entries_taxpayer_key",
        "taxpayer_key",
        sqlite_where=text("taxpayer_key IS NOT NULL"),
        postgresql_where=text("taxpayer_key IS NOT NULL"),
    ),
)
"""One row per log entry, in leaf order. ``kind`` is 0 for a decision, 1 for a batch
entry, 2 for an event. The keys are 64-bit lookup hashes: batch entries and events are
indexed by request key, decisions are found by scanning their batch's range; the entry
bytes are the truth and every lookup re-checks them."""

tiles = Table(
    "ledger_tiles",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
)
"""tlog-tiles of height 8: full tiles, and the rightmost partial tile of each level."""

checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Every signed checkpoint ever issued, so that any two can be proven consistent."""

cosignatures = Table(
    "ledger_cosignatures",
    metadata,
    Column("size", BigInteger, ForeignKey("ledger_checkpoints.size"), primary_key=True),
    Column("witness", String(200), primary_key=True),
    Column("line", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
"""Witness cosignature lines (tlog-cosignature, type 0x04) for a checkpoint."""

head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
)
"""One row (id 1): the tree size; appenders lock and compare-and-swap it."""

HEAD_ID = 1


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one state of the store, whatever commits meanwhile.

    The audit compares entries, tiles, checkpoints and the head row with each other; read
    at different moments they would disagree whenever a batch commits during the audit.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite opens no transaction for reads; in one, the first read fixes the snapshot.
            conn.exec_driver_sql("BEGIN")
        else:
            conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


def _placeholders(conn: Connection, count: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * count)


def insert_entries(conn: Connection, rows: Sequence[EntryRow]) -> None:
    """Bulk-insert entry rows."""
    # Driver-level executemany: a third of the cost of Core's per-row processing. The
    # table and column names are this module's constants; every value is a bound parameter.
    columns = "(idx, kind, request_key, taxpayer_key, data)"
    sql = f"INSERT INTO {entries.name} {columns} VALUES ({_placeholders(conn, 5)})"  # noqa: S608
    conn.exec_driver_sql(sql, list(rows))


def insert_decisions(conn: Connection, encoded: EncodedDecisions) -> None:
    """Bulk-insert decision entries: COPY on PostgreSQL, the driver's executemany on SQLite.

    Both go through the caller's connection, inside its transaction. Driver errors come out
    as SQLAlchemy's, as they would from ``conn.execute``.
    """
    columns = "(idx, kind, request_key, taxpayer_key, data)"
    sql = f"INSERT INTO {entries.name} {columns} VALUES ({_placeholders(conn, 5)})"  # noqa: S608
    driver: Any = conn.connection.driver_connection
    dbapi_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    try:
        if conn.dialect.name == "postgresql":
            # COPY streams a chunk in one statement, several times faster than executemany.
            sql = f"COPY {entries.name} {columns} FROM STDIN (FORMAT BINARY)"
            with driver.cursor() as cursor, cursor.copy(sql) as copy:
                copy.set_types(["int8", "int2", "int8", "int8", "bytea"])
                for row in encoded.rows():
                    copy.write_row(row)
        else:
            # SQLite's driver binds the rows as they are made: no list of a chunk's tuples.
            with closing(driver.cursor()) as cursor:
                cursor.executemany(sql, encoded.rows())
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc


def insert_tiles(conn: Connection, rows: Sequence[tuple[int, int, bytes]]) -> None:
    """Bulk-insert tile rows (level, index, hashes)."""
    if rows:
        columns = "(level, idx, hashes)"
        sql = f"INSERT INTO {tiles.name} {columns} VALUES ({_placeholders(conn, 3)})"  # noqa: S608
        conn.exec_driver_sql(sql, list(rows))


def delete_tiles(conn: Connection, keys: Collection[TileKey]) -> None:
    """Delete tiles (the partial ones an append is about to rewrite)."""
    if keys:
        conn.execute(_DELETE_TILE, [{"level": level, "idx": index} for level, index in keys])


# the statements of every append, built once: SQLAlchemy then reuses their compiled form
# without deriving a cache key on each call (about 60 us a statement, measured 2026-12-04)
_LOCK_HEAD = update(head).where(head.c.id == HEAD_ID).values(size=head.c.size)
_HEAD_SIZE = select(head.c.size).where(head.c.id == HEAD_ID)
_SET_HEAD = (
    update(head).where(head.c.id == HEAD_ID, head.c.size == bindparam("old")).values(size=bindparam("new"))
)
_TILE_KEY = (tiles.c.level == bindparam("level"), tiles.c.idx == bindparam("idx"))
_DELETE_TILE = delete(tiles).where(*_TILE_KEY)
_READ_TILE = select(tiles.c.hashes).where(*_TILE_KEY)
_INSERT_CHECKPOINT = insert(checkpoints)
FEW_TILES = 8
"""Up to this many tiles are read one prebuilt lookup each (an append reads one per level)."""


def lock_head(conn: Connection) -> int:
    """The tree size, locked for this transaction: the store's write lock, taken here.

    The lock is taken before the size is read, by a no-op write: PostgreSQL's row lock, and
    on SQLite the database's write lock (waiting up to its busy timeout, whereas a write
    after a read in the same transaction fails at once when another writer committed in
    between). The size read next is then the newest, and stays so until this transaction
    ends: appenders in other threads and processes queue here instead of failing. Called
    again in the same transaction, it returns the size at once.
    """
    locked = conn.execute(_LOCK_HEAD)
    if locked.rowcount != 1:
        raise LedgerError("the ledger head row is missing: run `custodes init` (store upgrade)")
    return int(conn.execute(_HEAD_SIZE).scalar_one())


def set_head(conn: Connection, old: int, new: int) -> None:
    """Move the tree size from ``old`` to ``new`` (compare-and-swap)."""
    moved = conn.execute(_SET_HEAD, {"old": old, "new": new})
    if moved.rowcount != 1:
        raise LedgerError("another process appended to the log at the same time; retry")


def head_size(conn: Connection) -> int:
    """The tree size recorded in the head row (0 if the row is missing)."""
    size = conn.execute(_HEAD_SIZE).scalar_one_or_none()
    return int(size or 0)


def read_tiles(conn: Connection, keys: Collection[TileKey]) -> dict[TileKey, bytes]:
    """The stored bytes of each tile asked for that exists."""
    if not keys:
        return {}
    if len(keys) <= FEW_TILES:
        # an append's few partial tiles: one prebuilt lookup each, no statement built per call
        found = {}
        for level, index in keys:
            blob = conn.execute(_READ_TILE, {"level": level, "idx": index}).scalar_one_or_none()
            if blob is not None:
                found[(int(level), int(index))] = bytes(blob)
        return found
    condition = or_(*(and_(tiles.c.level == lv, tiles.c.idx == ix) for lv, ix in keys))
    rows = conn.execute(select(tiles.c.level, tiles.c.idx, tiles.c.hashes).where(condition))
    return {(int(level), int(index)): bytes(blob) for level, index, blob in rows}


class StoredTiles:
    """Perfect-subtree hashes read from the stored tiles (a ``NodeReader``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def read_tiles(self, keys: Collection[TileKey]) -> Mapping[TileKey, bytes]:
        """The stored tiles asked for."""
        return read_tiles(self._conn, keys)

    def read_nodes(self, nodes: Collection[Node]) -> Mapping[Node, bytes]:
        """Hashes of perfect subtrees, from one query for all their tiles."""
        return nodes_from_tiles(nodes, self)


def insert_checkpoint(conn: Connection, checkpoint: SignedCheckpoint) -> None:
    """Store a signed checkpoint."""
    conn.execute(
        _INSERT_CHECKPOINT,
        {
            "size": checkpoint.size,
            "root_hash": checkpoint.root_hash,
            "note": checkpoint.note,
            "created_at": datetime.now(UTC),
        },
    )


def _signed(origin: str, row: Row[Any, Any, Any]) -> SignedCheckpoint:
    size, root_hash, note = row
    return SignedCheckpoint(origin, int(size), _blob(root_hash), str(note))


def latest_checkpoint(conn: Connection, origin: str) -> SignedCheckpoint | None:
    """The newest signed checkpoint, if any."""
    row = conn.execute(
        select(checkpoints.c.size, checkpoints.c.root_hash, checkpoints.c.note)
        .order_by(checkpoints.c.size.desc())
        .limit(1)
    ).first()
    return None if row is None else _signed(origin, row)


def checkpoint_at(conn: Connection, origin: str, size: int) -> SignedCheckpoint | None:
    """The signed checkpoint of a tree of ``size``, if one was issued."""
    row = conn.execute(
        select(checkpoints.c.size, checkpoints.c.root_hash, checkpoints.c.note).where(
            checkpoints.c.size == size
        )
    ).first()
    return None if row is None else _signed(origin, row)


def checkpoints_after(conn: Connection, origin: str, size: int) -> list[SignedCheckpoint]:
    """Every signed checkpoint of a tree larger than ``size``, smallest first."""
    rows = conn.execute(
        select(checkpoints.c.size, checkpoints.c.root_hash, checkpoints.c.note)
        .where(checkpoints.c.size > size)
        .order_by(checkpoints.c.size)
    )
    return [_signed(origin, row) for row in rows]


def all_checkpoint_notes(conn: Connection) -> list[tuple[int, bytes, str]]:
    """Every stored checkpoint as (size, root hash, note), smallest first."""
    rows = conn.execute(
        select(checkpoints.c.size, checkpoints.c.root_hash, checkpoints.c.note).order_by(checkpoints.c.size)
    )
    return [(int(size), bytes(root), str(note)) for size, root, note in rows]


def _entry_rows(conn: Connection, *conditions: ColumnElement[bool] | TextClause) -> list[tuple[int, bytes]]:
    rows = conn.execute(select(entries.c.idx, entries.c.data).where(*conditions).order_by(entries.c.idx))
    return [(int(idx), _blob(data)) for idx, data in rows]


def _blob(value: bytes | memoryview | str) -> bytes:
    # Hand edits in SQLite can turn a BLOB into TEXT; read it back as the bytes it holds.
    return value.encode() if isinstance(value, str) else bytes(value)


def indexed_entries(conn: Connection, key: int, below: int) -> list[tuple[int, bytes]]:
    """Batch entries and events filed under request ``key``, with index below ``below``."""
    # The literal ``kind <> 0`` is what lets SQLite use the partial index.
    return _entry_rows(conn, entries.c.request_key == key, text("kind <> 0"), entries.c.idx < below)


def decisions_in_range(conn: Connection, key: int, start: int, end: int) -> list[tuple[int, bytes]]:
    """Entries filed under request ``key`` among indexes [start, end) (one batch)."""
    return _entry_rows(conn, entries.c.idx >= start, entries.c.idx < end, entries.c.request_key == key)


def taxpayer_entries(conn: Connection, key: int, below: int) -> list[tuple[int, bytes]]:
    """Entries filed under taxpayer ``key``, with index below ``below``."""
    return _entry_rows(conn, entries.c.taxpayer_key == key, entries.c.idx < below)


def entry_range(conn: Connection, start: int, end: int) -> list[tuple[int, bytes]]:
    """Entries (index, bytes) with start <= index < end, in order."""
    return _entry_rows(conn, entries.c.idx >= start, entries.c.idx < end)


def iter_entry_rows(conn: Connection, chunk: int = 20_000) -> Iterator[list[EntryRow]]:
    """Every entry row, in index order, in chunks."""
    last = -1
    columns = (entries.c.idx, entries.c.kind, entries.c.request_key, entries.c.taxpayer_key)
    while True:
        rows = conn.execute(
            select(*columns, entries.c.data).where(entries.c.idx > last).order_by(entries.c.idx).limit(chunk)
        ).all()
        if not rows:
            return
        yield [(int(i), int(k), r, t, _blob(d)) for i, k, r, t, d in rows]
        last = int(rows[-1][0])


def tile_range(conn: Connection, level: int, first: int, last: int) -> dict[int, bytes]:
    """Stored tiles of ``level`` with first <= index <= last, by index."""
    rows = conn.execute(
        select(tiles.c.idx, tiles.c.hashes).where(
            tiles.c.level == level, tiles.c.idx >= first, tiles.c.idx <= last
        )
    )
    return {int(index): _blob(blob) for index, blob in rows}


def insert_cosignature(conn: Connection, size: int, witness: str, line: str) -> None:
    """Store (or replace) a witness's cosignature line for the checkpoint of ``size``."""
    conn.execute(delete(cosignatures).where(cosignatures.c.size == size, cosignatures.c.witness == witness))
    conn.execute(
        insert(cosignatures).values(size=size, witness=witness, line=line, received_at=datetime.now(UTC))
    )


def cosignature_lines(conn: Connection, size: int) -> dict[str, str]:
    """Witness name to cosignature line, for the checkpoint of ``size``."""
    rows = conn.execute(
        select(cosignatures.c.witness, cosignatures.c.line).where(cosignatures.c.size == size)
    )
    return {str(w): str(line) for w, line in rows}


def last_cosigned_size(conn: Connection, witness: str) -> int:
    """The largest checkpoint size ``witness`` has cosigned for us (0 if none)."""
    size = conn.execute(
        select(func.max(cosignatures.c.size)).where(cosignatures.c.witness == witness)
    ).scalar_one()
    return int(size or 0)
