"""The log's secrets: the Ed25519 checkpoint-signing key and the custodian secret.

Both are created once by ``custodes init`` under ``<home>/ledger/`` with mode 0600, never
overwritten and never logged. The signing key is kept in Go's signer-key format, named by
the log origin; the custodian secret keys the HMAC commitments to taxpayer TINs.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.errors import LedgerError
from custodes.ledger.note import format_signer_key, parse_signer_key, verifier_for
from custodes.ledger.verify import NoteVerifier

SIGNING_KEY_FILE = "log-signing.key"
CUSTODIAN_SECRET_FILE = "custodian.secret"  # noqa: S105 - a file name
SECRET_SIZE = 32


class LedgerKeysExistError(LedgerError, FileExistsError):
    """The keys already exist; they are never overwritten (also a ``FileExistsError``)."""


class LedgerKeysMissingError(LedgerError, FileNotFoundError):
    """A key file is missing (also a ``FileNotFoundError``): run ``custodes init``."""


@dataclass(frozen=True)
class LedgerKeys:
    """What appending to the log needs: its origin, signing key and custodian secret."""

    origin: str
    signing_key: Ed25519PrivateKey = field(repr=False)
    custodian_secret: bytes = field(repr=False)

    @property
    def verifier(self) -> NoteVerifier:
        """The log's public verifier key; ``verifier.vkey`` is what overseers are given."""
        return verifier_for(self.origin, self.signing_key)


def key_dir(home: Path) -> Path:
    """Where the log's secrets live under custodes' home directory."""
    return home / "ledger"


def _write_secret(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def create_keys(home: Path, origin: str) -> None:
    """Create the signing key and custodian secret (mode 0600); refuse to overwrite them."""
    directory = key_dir(home)
    paths = [directory / SIGNING_KEY_FILE, directory / CUSTODIAN_SECRET_FILE]
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise LedgerKeysExistError(
            f"ledger keys already exist ({', '.join(existing)}); they are never overwritten, "
            "because checkpoints signed with them would no longer verify"
        )
    signing_key = Ed25519PrivateKey.generate()
    skey = format_signer_key(origin, signing_key)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_secret(paths[0], skey + "\n")
    _write_secret(paths[1], secrets.token_bytes(SECRET_SIZE).hex() + "\n")


def _read_secret(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise LedgerKeysMissingError(
            f"{path} is missing: run `custodes init` to create the ledger keys"
        ) from exc
    if stat.S_IMODE(mode) & 0o077:
        raise LedgerError(f"{path} is readable by others: run `chmod 600 {path}`")
    return path.read_text(encoding="ascii").removesuffix("\n")


def load_keys(home: Path, origin: str) -> LedgerKeys:
    """Load the log's keys; the signing key must have been made for ``origin``."""
    directory = key_dir(home)
    name, signing_key = parse_signer_key(_read_secret(directory / SIGNING_KEY_FILE))
    if name != origin:
        raise LedgerError(
            f"the signing key was created for log origin {name!r}, but the settings say "
            f"{origin!r}; set log_origin back to {name!r}"
        )
    try:
        secret = bytes.fromhex(_read_secret(directory / CUSTODIAN_SECRET_FILE))
    except ValueError as exc:
        raise LedgerError(f"{directory / CUSTODIAN_SECRET_FILE} is not hex") from exc
    if len(secret) != SECRET_SIZE:
        raise LedgerError(f"{directory / CUSTODIAN_SECRET_FILE} does not hold {SECRET_SIZE} bytes")
    return LedgerKeys(origin, signing_key, secret)


_LOADED: dict[tuple[Path, str], tuple[tuple[tuple[int, int, int, int], ...], LedgerKeys]] = {}
_LOADED_LOCK = threading.Lock()


def _signature(directory: Path) -> tuple[tuple[int, int, int, int], ...] | None:
    try:
        found = [(directory / name).stat() for name in (SIGNING_KEY_FILE, CUSTODIAN_SECRET_FILE)]
    except FileNotFoundError:
        return None
    return tuple((st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode) for st in found)


def load_keys_cached(home: Path, origin: str) -> LedgerKeys:
    """``load_keys``, read again only when a key file changed (its inode, time, size or mode).

    Every online group appends to the log; reading and parsing the two files took about
    0.3 ms each time. A file replaced, rewritten or made readable by others is seen at the
    next call, which then reads it as ``load_keys`` does (and refuses as it does).
    """
    directory = key_dir(home)
    signature = _signature(directory)
    with _LOADED_LOCK:
        kept = _LOADED.get((home, origin))
    if signature is not None and kept is not None and kept[0] == signature:
        return kept[1]
    keys = load_keys(home, origin)
    if signature is not None and _signature(directory) == signature:
        with _LOADED_LOCK:
            _LOADED[(home, origin)] = (signature, keys)
    return keys
