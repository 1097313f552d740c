"""RFC 6962 hashing for the log writer: leaves, interior nodes and whole perfect subtrees.

The two primitives live in the standalone verifier (``custodes.ledger.verify``) so that
it needs nothing else; this module re-exports them and adds the bulk forms the writer
and the proof server use.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

from custodes.ledger.verify import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "fold_right",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "perfect_root",
]


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    """The RFC 6962 leaf hash of every entry, in order."""
    return [sha256(b"\x00" + entry).digest() for entry in entries]


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of the perfect subtree whose bottom row is ``hashes`` (a power of two of them)."""
    level = list(hashes)
    while len(level) > 1:
        level = [sha256(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=True)]
    return level[0]


def fold_right(subtrees: Sequence[bytes]) -> bytes:
    """Merkle tree hash of a range from its perfect subtrees, largest (leftmost) first.

    RFC 6962 splits a range at the largest power of two, so the root of subtrees
    ``s0, s1, ..., sk`` is ``node(s0, node(s1, ... node(sk-1, sk)))``.
    """
    result = subtrees[-1]
    for left in reversed(subtrees[:-1]):
        result = node_hash(left, result)
    return result
