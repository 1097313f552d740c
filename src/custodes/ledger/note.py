"""Signing C2SP signed notes: Ed25519 keys in Go's note formats, signatures, cosignatures.

Opening and verifying notes is in the standalone verifier (``custodes.ledger.verify``);
this module holds what only a signer needs: the signer-key format
``PRIVATE+KEY+name+keyid+base64(0x01 || seed)``, verifier keys from private keys, note
signature lines, and tlog-cosignature/v1 (type 0x04) lines for the witness.
"""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from custodes.errors import LedgerError
from custodes.ledger.verify import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    NoteSignature,
    NoteVerifier,
    VerificationError,
    cosignature_message,
    decode_base64,
    is_valid_key_name,
    key_id,
)

_SKEY = re.compile(r"PRIVATE\+KEY\+([^+]*)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]*)")


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte Ed25519 public key of ``key``."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_for(name: str, key: Ed25519PrivateKey, algorithm: int = ALG_ED25519) -> NoteVerifier:
    """The note verifier (its ``vkey`` is the public key string) for a signer's key."""
    if not is_valid_key_name(name):
        raise LedgerError(f"{name!r} cannot name a note key: it must have no spaces and no '+'")
    public = public_bytes(key)
    return NoteVerifier(name, key_id(name, bytes([algorithm]) + public), algorithm, public)


def format_signer_key(name: str, key: Ed25519PrivateKey) -> str:
    """The Go signer-key string ``PRIVATE+KEY+name+keyid+base64(0x01 || seed)``."""
    verifier = verifier_for(name, key)
    seed = key.private_bytes_raw()
    encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
    return f"PRIVATE+KEY+{name}+{verifier.key_id:08x}+{encoded}"


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a Go signer-key string; the key ID must match the derived public key."""
    match = _SKEY.fullmatch(skey)
    if match is None or not is_valid_key_name(match[1]):
        raise LedgerError("malformed signer key")
    try:
        raw = decode_base64(match[3])
    except VerificationError as exc:
        raise LedgerError("malformed signer key") from exc
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise LedgerError("malformed signer key: not an Ed25519 seed")
    key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if verifier_for(match[1], key).key_id != int(match[2], 16):
        raise LedgerError("signer key ID does not match its key")
    return match[1], key


def sign_line(name: str, key: Ed25519PrivateKey, text: str) -> str:
    """A note signature line by ``key`` over the note ``text``."""
    if not text.endswith("\n"):
        raise LedgerError("note text must end in a newline")
    verifier = verifier_for(name, key)
    signature = key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(verifier.key_id.to_bytes(4, "big") + signature).decode()
    return NoteSignature(name, verifier.key_id, encoded).line


def cosign_line(name: str, key: Ed25519PrivateKey, text: str, timestamp: int) -> str:
    """A tlog-cosignature/v1 (type 0x04) line over the checkpoint ``text`` at ``timestamp``."""
    if not 0 < timestamp < 1 << 63:
        raise LedgerError(f"cosignature timestamp {timestamp} is out of range")
    verifier = verifier_for(name, key, ALG_COSIGNATURE_V1)
    signature = key.sign(cosignature_message(text, timestamp))
    raw = verifier.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
    return NoteSignature(name, verifier.key_id, base64.b64encode(raw).decode()).line


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """A complete signed note: the text, a blank line and one signature line."""
    return text + "\n" + sign_line(name, key, text)
