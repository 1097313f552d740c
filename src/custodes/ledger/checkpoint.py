"""Signed checkpoints: the C2SP tlog-checkpoint body wrapped in an Ed25519 signed note."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.ledger.note import sign_note
from custodes.ledger.verify import Checkpoint


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint of the log and its signed note, as stored and published."""

    origin: str
    size: int
    root_hash: bytes
    note: str
    """The signed note: checkpoint text, a blank line, the log's signature line."""

    @property
    def text(self) -> str:
        """The checkpoint body (what the signature covers)."""
        return Checkpoint(self.origin, self.size, self.root_hash).text


def sign_checkpoint(origin: str, size: int, root_hash: bytes, key: Ed25519PrivateKey) -> SignedCheckpoint:
    """Sign the checkpoint of a tree of ``size`` with ``root_hash``; the key is named origin."""
    text = Checkpoint(origin, size, root_hash).text
    return SignedCheckpoint(origin, size, root_hash, sign_note(text, origin, key))
