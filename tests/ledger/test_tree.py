"""Tile geometry and the right edge: appended tiles hold exactly the RFC's subtree hashes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.ledger.hasher import HASH_SIZE, leaf_hash, leaf_hashes
from custodes.ledger.proof import inclusion_proof, root_hash
from custodes.ledger.tree import (
    RightEdge,
    TileKey,
    TileMissingError,
    nodes_from_tiles,
    partial_keys,
    range_nodes,
    split_hashes,
    tile_of,
    tile_width,
)

from .reference import mth, path


class DictTiles:
    """Tiles kept in a dict, as the store keeps them: full tiles plus the partial ones."""

    def __init__(self) -> None:
        self.tiles: dict[TileKey, bytes] = {}

    def put(self, rows: list[tuple[int, int, bytes]]) -> None:
        for level, index, blob in rows:
            self.tiles[(level, index)] = blob

    def read_tiles(self, keys: object) -> dict[TileKey, bytes]:
        assert isinstance(keys, set)
        return {key: self.tiles[key] for key in keys if key in self.tiles}

    def read_nodes(self, nodes: object) -> dict[tuple[int, int], bytes]:
        assert isinstance(nodes, set)
        return nodes_from_tiles(nodes, self)


def test_tile_geometry_matches_tlog_tiles() -> None:
    assert tile_of((0, 5)) == ((0, 0), 5, 1)
    assert tile_of((3, 40)) == ((0, 1), 64, 8)
    assert tile_of((8, 300)) == ((1, 1), 44, 1)
    assert tile_of((17, 3)) == ((2, 0), 6, 2)
    # tlog-tiles' example: size 70000 has partial tiles .p/112, .p/17 and .p/1.
    assert {level: tile_width(70000, level) for level in range(3)} == {0: 112, 1: 17, 2: 1}
    assert partial_keys(70000) == {0: 273, 1: 1, 2: 0}
    assert partial_keys(65536) == {2: 0}
    assert partial_keys(0) == {}


def test_range_nodes_decompose_a_subtree() -> None:
    assert range_nodes(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert range_nodes(8, 12) == [(2, 2)]


def _grow(chunks: list[int]) -> tuple[list[bytes], DictTiles, RightEdge]:
    leaves: list[bytes] = []
    tiles = DictTiles()
    edge = RightEdge(0, {})
    for count in chunks:
        new = [
            len(leaves).to_bytes(4, "big") + bytes([i % 7]) for i in range(len(leaves), len(leaves) + count)
        ]
        leaves += new
        # A new writer resumes from the stored partial tiles each time, as append_batch does.
        stored = {
            level: split_hashes(tiles.tiles.get((level, index), b""))
            for level, index in partial_keys(edge.size).items()
        }
        edge = RightEdge(edge.size, stored)
        tiles.put(edge.append(leaf_hashes(new)))
        tiles.put(edge.partial_tiles())
    return leaves, tiles, edge


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 700), min_size=1, max_size=6))
def test_appending_in_any_chunks_gives_the_rfc_root_and_tiles(chunks: list[int]) -> None:
    leaves, tiles, edge = _grow(chunks)
    assert edge.size == len(leaves)
    assert edge.root() == mth(leaves)
    for (level, index), blob in tiles.tiles.items():
        span = 256**level
        for i, stored in enumerate(split_hashes(blob)):
            start = (index * 256 + i) * span
            if start + span <= len(leaves):
                assert stored == mth(leaves[start : start + span])
    if leaves:
        index = len(leaves) // 3
        assert inclusion_proof(index, len(leaves), tiles) == path(index, leaves)
        assert root_hash(len(leaves), tiles) == mth(leaves)


def test_a_large_tree_spans_three_tile_levels() -> None:
    leaves, tiles, edge = _grow([70000])
    assert {key for key in tiles.tiles if key[0] == 2} == {(2, 0)}
    assert len(tiles.tiles[(0, 273)]) == 112 * HASH_SIZE
    assert edge.root() == root_hash(70000, tiles)
    # Old sizes are still provable from the wider tiles of today.
    assert inclusion_proof(5, 300, tiles) == path(5, leaves[:300])
    assert root_hash(65536, tiles) == mth(leaves[:65536])


def test_a_missing_or_short_tile_is_reported() -> None:
    _, tiles, _ = _grow([300])
    del tiles.tiles[(0, 1)]
    with pytest.raises(TileMissingError, match="lacks"):
        root_hash(300, tiles)
    with pytest.raises(TileMissingError, match="rightmost tile of level 0"):
        RightEdge(300, {0: [leaf_hash(b"x")]})
