"""RFC 6962 written straight from the RFC's recursive definitions, to test against."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from custodes.ledger.hasher import EMPTY_ROOT, leaf_hash, node_hash
from custodes.ledger.tree import Node


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over raw entries."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _k(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


class MemoryNodes:
    """A ``NodeReader`` over entries held in memory."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)

    def read_nodes(self, nodes: Collection[Node]) -> Mapping[Node, bytes]:
        out = {}
        for height, index in nodes:
            start = index << height
            assert start + (1 << height) <= len(self.leaves), (height, index)
            out[(height, index)] = mth(self.leaves[start : start + (1 << height)])
        return out
