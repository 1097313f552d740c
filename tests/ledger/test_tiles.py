"""The tlog-tiles read API: paths, partial tiles, entry bundles, and a client rebuilding roots."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from custodes.errors import LedgerError
from custodes.ledger import LedgerKeys, append_batch, latest_checkpoint, store
from custodes.ledger.hasher import leaf_hash
from custodes.ledger.proof import inclusion_proof, root_hash
from custodes.ledger.tiles import (
    ENTRIES,
    TileRef,
    format_index,
    parse_tile_path,
    read_tile,
    tile_path,
    tiles_app,
)
from custodes.ledger.tree import TileKey, nodes_from_tiles
from custodes.ledger.verify import verify_checkpoint, verify_inclusion

from .asgi import call
from .conftest import batch_entry, decision


def test_index_groups_follow_the_spec() -> None:
    assert [format_index(n) for n in (5, 1000, 1234067)] == ["005", "x001/000", "x001/x234/067"]
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 5, 17) == "tile/1/005.p/17"
    assert tile_path(ENTRIES, 2, 3) == "tile/entries/002.p/3"


@pytest.mark.parametrize(
    "ref", [TileRef(0, 1234067, 256), TileRef(3, 0, 1), TileRef(ENTRIES, 999, 255), TileRef(63, 1000, 256)]
)
def test_paths_round_trip(ref: TileRef) -> None:
    assert parse_tile_path(tile_path(ref.level, ref.index, ref.width)) == ref


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/5",
        "tile/0/0005",
        "tile/00/005",
        "tile/64/005",
        "tile/0/x000/005",
        "tile/0/x01/005",
        "tile/0/005.p/0",
        "tile/0/005.p/256",
        "tile/0/005.p/07",
        "tiles/0/005",
        "tile/0",
        "tile/data/005",
    ],
)
def test_bad_paths_are_rejected(path: str) -> None:
    with pytest.raises(ValueError, match="tile"):
        parse_tile_path(path)


class HttpTiles:
    """A tlog client's view: tiles fetched through the read API, partial ones at its size."""

    def __init__(self, app: object, size: int) -> None:
        self.app, self.size, self.fetched = app, size, 0

    def read_tiles(self, keys: set[TileKey]) -> dict[TileKey, bytes]:
        out = {}
        for level, index in keys:
            full = self.size >> (8 * (level + 1))
            width = 256 if index < full else (self.size >> (8 * level)) % 256
            response = call(self.app, "GET", "/" + tile_path(level, index, width))  # type: ignore[arg-type]
            assert response.status_code == 200, response.text
            self.fetched += 1
            out[(level, index)] = response.content
        return out

    def read_nodes(self, nodes: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return nodes_from_tiles(nodes, self)


def test_a_tlog_client_can_rebuild_and_prove_from_the_tiles(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(700)])
    app = tiles_app(engine, keys.origin)
    response = call(app, "GET", "/checkpoint")
    assert response.headers["content-type"].startswith("text/plain")
    checkpoint = verify_checkpoint(response.text, keys.verifier)
    client = HttpTiles(app, checkpoint.size)
    assert root_hash(checkpoint.size, client) == checkpoint.root_hash
    bundle = call(app, "GET", "/" + tile_path(ENTRIES, 1))
    assert bundle.headers["cache-control"].endswith("immutable")
    entries, data = [], bundle.content
    while data:
        length = int.from_bytes(data[:2], "big")
        entries.append(data[2 : 2 + length])
        data = data[2 + length :]
    assert len(entries) == 256
    proof = inclusion_proof(300, checkpoint.size, client)
    verify_inclusion(leaf_hash(entries[300 - 256]), 300, checkpoint.size, proof, checkpoint.root_hash)


def test_missing_tiles_and_paths_are_404(engine: Engine, keys: LedgerKeys) -> None:
    app = tiles_app(engine, keys.origin)
    assert call(app, "GET", "/checkpoint").status_code == 404
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(299)])
    # size 300: level 0 has one full tile and .p/44; level 1 has .p/1.
    assert call(app, "GET", "/tile/0/001.p/44").status_code == 200
    assert call(app, "GET", "/tile/0/000.p/10").content == call(app, "GET", "/tile/0/000").content[:320]
    for path in (
        "/tile/0/001",
        "/tile/0/001.p/45",
        "/tile/0/002.p/1",
        "/tile/1/000.p/2",
        "/tile/2/000.p/1",
        "/tile/x",
    ):
        assert call(app, "GET", path).status_code == 404, path
    assert call(app, "GET", "/tile/entries/001.p/44").status_code == 200


def test_a_short_stored_tile_is_reported(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [decision("B1", i) for i in range(9)])
        conn.execute(store.tiles.update().values(hashes=b""))
    with pytest.raises(LedgerError, match="is short"):
        read_tile(engine, TileRef(0, 0, 10))


def test_the_checkpoint_carries_cosignatures(engine: Engine, keys: LedgerKeys) -> None:
    with engine.begin() as conn:
        append_batch(conn, keys, batch_entry("B1"), [])
        size = latest_checkpoint(conn, keys.origin).size
        store.insert_cosignature(conn, size, "w1", "— w1 AAAA\n")
    assert call(tiles_app(engine, keys.origin), "GET", "/checkpoint").text.endswith("— w1 AAAA\n")
