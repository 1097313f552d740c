"""The tree's shape: perfect subtrees, tlog-tiles geometry and the right edge being appended.

A perfect subtree is named ``(height, index)`` and covers leaves
``[index * 2**height, (index + 1) * 2**height)``. Hashes are stored as C2SP tlog-tiles of
height 8: tile ``(level, n)`` holds, at position ``i``, the hash of the perfect subtree
``(8 * level, n * 256 + i)``. A full tile has 256 hashes; the rightmost tile of a level is
partial until it fills. Any perfect subtree is then one tile read plus at most 127 hashes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from custodes.ledger.hasher import EMPTY_ROOT, HASH_SIZE, fold_right, perfect_root

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT

Node = tuple[int, int]
"""A perfect subtree: (height, index)."""

TileKey = tuple[int, int]
"""A tile: (level, index)."""


class NodeReader(Protocol):
    """Anything that can produce the hashes of perfect subtrees (a store, a test tree)."""

    def read_nodes(self, nodes: Collection[Node]) -> Mapping[Node, bytes]:
        """The hash of each requested perfect subtree."""
        ...


class TileReader(Protocol):
    """Anything that can produce stored tiles, as concatenated 32-byte hashes."""

    def read_tiles(self, keys: Collection[TileKey]) -> Mapping[TileKey, bytes]:
        """The stored bytes of each requested tile; a missing tile is left out."""
        ...


def range_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees, leftmost (largest) first, of the RFC 6962 subtree [start, end).

    ``start`` must be a multiple of the largest power of two not above ``end - start``,
    which holds for every subtree the RFC 6962 recursion visits.
    """
    nodes: list[Node] = []
    pos = start
    for height in range((end - start).bit_length() - 1, -1, -1):
        if (end - start) >> height & 1:
            nodes.append((height, pos >> height))
            pos += 1 << height
    return nodes


def tile_of(node: Node) -> tuple[TileKey, int, int]:
    """Where a perfect subtree's hashes are: its tile, first position and hash count."""
    height, index = node
    level, rest = divmod(height, TILE_HEIGHT)
    first = index << rest
    return (level, first >> TILE_HEIGHT), first & (TILE_WIDTH - 1), 1 << rest


def tile_width(size: int, level: int) -> int:
    """How many hashes the rightmost tile of ``level`` holds for a tree of ``size``."""
    return (size >> (TILE_HEIGHT * level)) & (TILE_WIDTH - 1)


def split_hashes(blob: bytes) -> list[bytes]:
    """A tile's bytes as its list of 32-byte hashes."""
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def partial_keys(size: int) -> dict[int, int]:
    """For a tree of ``size``: the index of each level's rightmost tile, if it is partial."""
    keys: dict[int, int] = {}
    level = 0
    while size >> (TILE_HEIGHT * level):
        if tile_width(size, level):
            keys[level] = size >> (TILE_HEIGHT * (level + 1))
        level += 1
    return keys


class TileMissingError(LookupError):
    """A stored tile needed for a hash is absent or too short: the store is damaged."""


def nodes_from_tiles(nodes: Collection[Node], reader: TileReader) -> dict[Node, bytes]:
    """Compute perfect-subtree hashes from tiles, reading every tile needed in one call."""
    places = {node: tile_of(node) for node in nodes}
    tiles = reader.read_tiles({key for key, _, _ in places.values()})
    out: dict[Node, bytes] = {}
    for node, (key, first, count) in places.items():
        blob = tiles.get(key, b"")
        if len(blob) < (first + count) * HASH_SIZE:
            raise TileMissingError(f"tile {key} lacks the hashes of subtree {node}")
        hashes = split_hashes(blob[first * HASH_SIZE : (first + count) * HASH_SIZE])
        out[node] = perfect_root(hashes)
    return out


class RightEdge:
    """The rightmost (partial) tile of each level: all a writer needs to append and sign.

    ``append`` takes leaf hashes and returns the tiles that became full; ``partial_tiles``
    and ``root`` describe the tree after the appends.
    """

    def __init__(self, size: int, partial: Mapping[int, Sequence[bytes]]) -> None:
        self.size = size
        self._partial: dict[int, list[bytes]] = {}
        for level in partial_keys(size):
            hashes = list(partial.get(level, ()))
            if len(hashes) != tile_width(size, level):
                raise TileMissingError(
                    f"the rightmost tile of level {level} has {len(hashes)} hashes, "
                    f"a tree of size {size} needs {tile_width(size, level)}"
                )
            self._partial[level] = hashes

    def append(self, leaves: Sequence[bytes]) -> list[tuple[int, int, bytes]]:
        """Append leaf hashes; return the tiles that became full as (level, index, bytes)."""
        full_tiles: list[tuple[int, int, bytes]] = []
        pending: Sequence[bytes] = leaves
        level = 0
        while pending:
            # Hashes already at this level before the append: the current tile's index.
            base = self.size >> (TILE_HEIGHT * (level + 1))
            buffer = self._partial.setdefault(level, [])
            buffer.extend(pending)
            count = len(buffer) >> TILE_HEIGHT
            promoted: list[bytes] = []
            for i in range(count):
                tile = buffer[i * TILE_WIDTH : (i + 1) * TILE_WIDTH]
                full_tiles.append((level, base + i, b"".join(tile)))
                promoted.append(perfect_root(tile))
            del buffer[: count * TILE_WIDTH]
            pending = promoted
            level += 1
        self.size += len(leaves)
        return full_tiles

    def partial_tiles(self) -> list[tuple[int, int, bytes]]:
        """The non-empty rightmost tile of each level, as (level, index, bytes)."""
        return [
            (level, index, b"".join(self._partial[level])) for level, index in partial_keys(self.size).items()
        ]

    def root(self) -> bytes:
        """The Merkle tree hash of the whole tree."""
        if self.size == 0:
            return EMPTY_ROOT
        subtrees: list[bytes] = []
        for level in sorted(partial_keys(self.size), reverse=True):
            hashes = self._partial[level]
            pos = 0
            for bit in range(TILE_HEIGHT - 1, -1, -1):
                if len(hashes) >> bit & 1:
                    subtrees.append(perfect_root(hashes[pos : pos + (1 << bit)]))
                    pos += 1 << bit
        return fold_right(subtrees)
