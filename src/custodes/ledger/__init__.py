"""The accounting log: an RFC 6962 transparency log of every act, in the operational store.

The gateway calls ``create_keys`` (at ``custodes init``), ``load_keys``, ``append_batch``
and ``append_event``. Overseers check what it produces with ``custodes.ledger.verify``,
which stands alone. See docs/ledger.md.
"""

from custodes.ledger.accounting import DecisionColumns, DecisionEntry, canonical_json, commitment
from custodes.ledger.audit import AuditResult, audit_log
from custodes.ledger.checkpoint import SignedCheckpoint
from custodes.ledger.keys import LedgerKeys, create_keys, load_keys
from custodes.ledger.reader import (
    accounting_for,
    consistency_between,
    latest_checkpoint,
    prove_index,
    prove_request,
)
from custodes.ledger.writer import append_batch, append_batches, append_event

__all__ = [
    "AuditResult",
    "DecisionColumns",
    "DecisionEntry",
    "LedgerKeys",
    "SignedCheckpoint",
    "accounting_for",
    "append_batch",
    "append_batches",
    "append_event",
    "audit_log",
    "canonical_json",
    "commitment",
    "consistency_between",
    "create_keys",
    "latest_checkpoint",
    "load_keys",
    "prove_index",
    "prove_request",
]
