"""API keys: ``cus_<key id>_<secret>``. The key id finds the row; only an argon2id hash is stored.

The key is shown once, when issued. Keys carry 256 random bits, so a modest argon2 cost
suffices; a verified key is remembered in this process (as a SHA-256 digest, never in
clear) so that online requests do not pay the hash on every call. Expiry and revocation
are read from the store on every request all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "cus"
_KEY = re.compile(r"cus_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")

_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
"""argon2id at OWASP's minimum recommended cost (19 MiB, 2 passes)."""


def new_key() -> tuple[str, str]:
    """A fresh (key id, full key)."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(presented: str) -> str | None:
    """The key id of a well-formed key, or None."""
    found = _KEY.fullmatch(presented)
    return found.group(1) if found else None


def hash_key(key: str) -> str:
    """The argon2id hash stored for ``key``."""
    return _HASHER.hash(key)


class KeyVerifier:
    """Checks presented keys against stored hashes, remembering the digests of verified ones."""

    def __init__(self) -> None:
        self._verified: dict[str, bytes] = {}
        self._gates: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _digest(stored_hash: str, presented: str) -> bytes:
        return hashlib.sha256(stored_hash.encode() + b"\x00" + presented.encode()).digest()

    def _known(self, key_id: str, digest: bytes) -> bool:
        with self._lock:
            known = self._verified.get(key_id)
        return known is not None and hmac.compare_digest(known, digest)

    def remembered(self, key_id: str, stored_hash: str, presented: str) -> bool:
        """Whether ``presented`` was verified before against ``stored_hash`` (no slow hash: a
        False only means that ``matches`` must decide)."""
        return self._known(key_id, self._digest(stored_hash, presented))

    def matches(self, key_id: str, stored_hash: str, presented: str) -> bool:
        """Whether ``presented`` is the key whose hash is ``stored_hash``.

        The slow hash is checked once per key and process: concurrent first requests with one
        key wait for a single check instead of each running their own.
        """
        digest = self._digest(stored_hash, presented)
        if self._known(key_id, digest):
            return True
        with self._lock:
            gate = self._gates.setdefault(key_id, threading.Lock())
        with gate:
            if self._known(key_id, digest):
                return True
            try:
                _HASHER.verify(stored_hash, presented)
            except (VerificationError, InvalidHashError):
                return False
            with self._lock:
                self._verified[key_id] = digest
        return True
