"""Proof generation: the RFC's recursion, the published happy paths, and properties."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.ledger.hasher import EMPTY_ROOT, leaf_hash
from custodes.ledger.proof import (
    consistency_proof,
    consistency_ranges,
    inclusion_proof,
    inclusion_ranges,
    root_hash,
)
from custodes.ledger.verify import VerificationError, verify_consistency, verify_inclusion

from .reference import MemoryNodes, mth, path, subproof

VECTORS = Path(__file__).parent / "vectors" / "merkle"
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def _b64list(values: object) -> list[bytes]:
    assert isinstance(values, list | type(None))
    return [base64.b64decode(v) for v in values or []]


def test_roots_of_the_vector_tree() -> None:
    reader = MemoryNodes(LEAVES)
    assert root_hash(1, reader).hex().startswith("6e340b9c")
    assert root_hash(8, reader).hex().startswith("5dc9da79")
    assert root_hash(0, reader) == EMPTY_ROOT
    assert all(root_hash(n, reader) == mth(LEAVES[:n]) for n in range(1, 9))


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 8), (5, 8), (2, 3), (1, 5)])
def test_published_inclusion_happy_paths_are_reproduced(index: int, size: int) -> None:
    wanted = next(
        c
        for c in (json.loads(p.read_text()) for p in (VECTORS / "inclusion").glob("*/happy-path.json"))
        if (c["leafIdx"], c["treeSize"]) == (index, size)
    )
    assert inclusion_proof(index, size, MemoryNodes(LEAVES)) == _b64list(wanted["proof"])


@pytest.mark.parametrize(("size1", "size2"), [(1, 1), (1, 8), (6, 8), (2, 5), (6, 7)])
def test_published_consistency_happy_paths_are_reproduced(size1: int, size2: int) -> None:
    wanted = next(
        c
        for c in (json.loads(p.read_text()) for p in (VECTORS / "consistency").glob("*/happy-path.json"))
        if (c["size1"], c["size2"]) == (size1, size2)
    )
    assert consistency_proof(size1, size2, MemoryNodes(LEAVES)) == _b64list(wanted["proof"])


def test_impossible_proofs_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_ranges(3, 3)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_ranges(0, 3)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_ranges(4, 3)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_any_proof_matches_the_rfc_and_verifies(size: int, data: st.DataObject) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    reader = MemoryNodes(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old size")
    root, old_root = mth(leaves), mth(leaves[:old])
    inclusion = inclusion_proof(index, size, reader)
    consistency = consistency_proof(old, size, reader)
    assert inclusion == path(index, leaves)
    assert consistency == subproof(old, leaves, True)
    verify_inclusion(leaf_hash(leaves[index]), index, size, inclusion, root)
    verify_consistency(old, size, consistency, old_root, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 200), st.data())
def test_any_one_bit_change_to_a_proof_fails(size: int, data: st.DataObject) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    reader = MemoryNodes(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size - 1), label="old size")
    root, old_root = mth(leaves), mth(leaves[:old])
    inclusion = inclusion_proof(index, size, reader)
    consistency = consistency_proof(old, size, reader)
    checks: dict[str, tuple[list[bytes], Callable[[list[bytes]], None]]] = {
        "inclusion": (inclusion, lambda p: verify_inclusion(leaf_hash(leaves[index]), index, size, p, root)),
        "consistency": (consistency, lambda p: verify_consistency(old, size, p, old_root, root)),
    }
    proof, check = checks[data.draw(st.sampled_from(sorted(checks)), label="proof")]
    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    bit = data.draw(st.integers(0, 255), label="bit")
    flipped = bytearray(proof[element])
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(VerificationError):
        check([*proof[:element], bytes(flipped), *proof[element + 1 :]])


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 200), st.data())
def test_any_one_bit_change_to_the_claim_fails(size: int, data: st.DataObject) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, MemoryNodes(leaves))
    bit = data.draw(st.integers(0, 255), label="bit")
    for target in ("leaf", "root"):
        value = bytearray(leaf_hash(leaves[index]) if target == "leaf" else mth(leaves))
        value[bit // 8] ^= 1 << (bit % 8)
        leaf = bytes(value) if target == "leaf" else leaf_hash(leaves[index])
        root = bytes(value) if target == "root" else mth(leaves)
        with pytest.raises(VerificationError):
            verify_inclusion(leaf, index, size, proof, root)
    wrong_index = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other index")
    with pytest.raises(VerificationError):
        verify_inclusion(leaf_hash(leaves[index]), wrong_index, size, proof, mth(leaves))
