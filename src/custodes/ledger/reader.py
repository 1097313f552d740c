"""Reading the log back: checkpoints, inclusion and consistency proofs, a taxpayer's acts.

Every proof is served from the stored tiles in O(log n) hashes and one query, and comes
as a JSON-ready bundle that ``custodes.ledger.verify`` checks on its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from sqlalchemy import Connection

from custodes.errors import LedgerError
from custodes.ledger import store
from custodes.ledger.accounting import batch_key, commitment, lookup_key, request_key
from custodes.ledger.checkpoint import SignedCheckpoint
from custodes.ledger.keys import LedgerKeys
from custodes.ledger.proof import consistency_proof, inclusion_proof, root_hash
from custodes.ledger.tree import TileMissingError

Bundle = dict[str, object]


def latest_checkpoint(conn: Connection, origin: str) -> SignedCheckpoint:
    """The newest signed checkpoint; an error if nothing was ever appended."""
    checkpoint = store.latest_checkpoint(conn, origin)
    if checkpoint is None:
        raise LedgerError("the log is empty: no checkpoint has been signed yet")
    return checkpoint


def _hashes(make: Callable[[], list[bytes]]) -> list[str]:
    try:
        return [h.hex() for h in make()]
    except TileMissingError as exc:
        raise LedgerError(f"the log's stored tiles are damaged: {exc}; run `custodes ledger audit`") from exc


def _inclusion(conn: Connection, index: int, data: bytes, size: int) -> Bundle:
    reader = store.StoredTiles(conn)
    return {
        "leaf_index": index,
        "tree_size": size,
        "entry_b64": base64.b64encode(data).decode(),
        "inclusion_path": _hashes(lambda: inclusion_proof(index, size, reader)),
    }


def prove_index(conn: Connection, origin: str, index: int) -> Bundle:
    """The inclusion bundle of entry ``index`` under the newest checkpoint."""
    checkpoint = latest_checkpoint(conn, origin)
    rows = store.entry_range(conn, index, index + 1)
    if not rows or index >= checkpoint.size:
        raise LedgerError(f"entry {index} is not in the log (tree size {checkpoint.size})")
    return {**_inclusion(conn, index, rows[0][1], checkpoint.size), "checkpoint": checkpoint.note}


def _decoded(data: bytes) -> dict[str, object]:
    value = json.loads(data)
    return value if isinstance(value, dict) else {}


def prove_request(
    conn: Connection, origin: str, batch_id: str, request_id: str, agency: str | None = None
) -> Bundle:
    """The inclusion bundle of the decision on ``request_id`` in ``batch_id``.

    The batch's sealing entry (found by its key) says where its decisions lie; the
    decision is then found by its request key within that range.
    """
    checkpoint = latest_checkpoint(conn, origin)
    found: list[tuple[int, bytes]] = []
    for _, seal_data in store.indexed_entries(conn, batch_key(batch_id), checkpoint.size):
        seal = _decoded(seal_data)
        first, count = seal.get("first_index"), seal.get("decisions")
        # Events about the batch share its key; only its sealing entry says where it lies.
        is_seal = seal.get("type") == "batch" and seal.get("batch_id") == batch_id
        if not (is_seal and isinstance(first, int) and isinstance(count, int)):
            continue
        candidates = store.decisions_in_range(conn, request_key(batch_id, request_id), first, first + count)
        found += [
            (index, data)
            for index, data in candidates
            if _is_decision(_decoded(data), batch_id, request_id, agency)
        ]
    if not found:
        raise LedgerError(f"the log holds no decision on request {request_id!r} of batch {batch_id!r}")
    if len(found) > 1:
        agencies = sorted({str(_decoded(data).get("agency")) for _, data in found})
        raise LedgerError(
            f"several decisions match request {request_id!r} of batch {batch_id!r} "
            f"(agencies {agencies}); name the agency"
        )
    index, data = found[0]
    return {**_inclusion(conn, index, data, checkpoint.size), "checkpoint": checkpoint.note}


def _is_decision(entry: dict[str, object], batch_id: str, request_id: str, agency: str | None) -> bool:
    return (
        entry.get("type") == "decision"
        and entry.get("batch_id") == batch_id
        and entry.get("request_id") == request_id
        and (agency is None or entry.get("agency") == agency)
    )


def accounting_for(conn: Connection, keys: LedgerKeys, tin: str) -> Bundle:
    """Every act about the taxpayer with ``tin``, each with its inclusion proof.

    This is the accounting of disclosures for one person: the entries carrying the
    taxpayer's commitment, proven under the newest checkpoint.
    """
    checkpoint = latest_checkpoint(conn, keys.origin)
    digest = commitment(keys.custodian_secret, tin)
    taxpayer = digest.hex()
    acts = [
        _inclusion(conn, index, data, checkpoint.size)
        for index, data in store.taxpayer_entries(conn, lookup_key(digest), checkpoint.size)
        if _decoded(data).get("taxpayer") == taxpayer
    ]
    return {
        "taxpayer": taxpayer,
        "tree_size": checkpoint.size,
        "checkpoint": checkpoint.note,
        "acts": acts,
    }


def consistency_between(conn: Connection, origin: str, size1: int, size2: int | None) -> Bundle:
    """The consistency bundle from the tree of ``size1`` to ``size2`` (default: newest)."""
    latest = latest_checkpoint(conn, origin)
    new = latest.size if size2 is None else size2
    if not 0 < size1 <= new <= latest.size:
        raise LedgerError(
            f"no consistency proof from size {size1} to {new}: sizes must satisfy "
            f"0 < from <= to <= {latest.size}"
        )
    reader = store.StoredTiles(conn)
    roots = _hashes(lambda: [root_hash(size1, reader), root_hash(new, reader)])
    old_cp = store.checkpoint_at(conn, origin, size1)
    new_cp = store.checkpoint_at(conn, origin, new)
    return {
        "from": size1,
        "to": new,
        "root_from": roots[0],
        "root_to": roots[1],
        "proof": _hashes(lambda: consistency_proof(size1, new, reader)),
        "checkpoint_from": None if old_cp is None else old_cp.note,
        "checkpoint_to": None if new_cp is None else new_cp.note,
    }
