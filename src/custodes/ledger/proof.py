"""Inclusion and consistency proofs (RFC 6962 PATH and SUBPROOF) from stored subtree hashes.

A proof is first planned as a list of ranges whose Merkle tree hashes it needs; every
range is a handful of perfect subtrees, so a proof costs O(log n) stored hashes, read
together in one call to a ``NodeReader``. Checking proofs is ``custodes.ledger.verify``.
"""

from __future__ import annotations

from collections.abc import Sequence

from custodes.ledger.hasher import EMPTY_ROOT, fold_right
from custodes.ledger.tree import Node, NodeReader, range_nodes

Range = tuple[int, int]
"""Leaves [start, end) of an RFC 6962 subtree."""


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes form the inclusion proof of leaf ``index``, leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_ranges(size1: int, size2: int) -> list[Range]:
    """The subtrees whose hashes form the consistency proof from ``size1`` to ``size2``."""
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    path: list[Range] = []
    lo, hi, m, complete = 0, size2, size1, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            m -= k
            lo += k
            complete = False
    if not complete:
        path.append((lo, hi))
    path.reverse()
    return path


def hash_ranges(ranges: Sequence[Range], reader: NodeReader) -> list[bytes]:
    """The Merkle tree hash of each range, from one read of all the perfect subtrees."""
    plans = [range_nodes(start, end) for start, end in ranges]
    wanted: set[Node] = {node for plan in plans for node in plan}
    hashes = reader.read_nodes(wanted)
    return [fold_right([hashes[node] for node in plan]) for plan in plans]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """The RFC 6962 inclusion proof of leaf ``index`` in the tree of ``size``."""
    return hash_ranges(inclusion_ranges(index, size), reader)


def consistency_proof(size1: int, size2: int, reader: NodeReader) -> list[bytes]:
    """The RFC 6962 consistency proof from the tree of ``size1`` to the tree of ``size2``."""
    return hash_ranges(consistency_ranges(size1, size2), reader)


def root_hash(size: int, reader: NodeReader) -> bytes:
    """The Merkle tree hash of the first ``size`` leaves."""
    if size == 0:
        return EMPTY_ROOT
    return hash_ranges([(0, size)], reader)[0]
