"""Standalone verifier for the custodes accounting log: an overseer can run this file alone.

It imports only the standard library and ``cryptography``, never the rest of custodes, so
it can be copied out of the package and run as ``python verify.py ...``. It checks:

- RFC 6962 / RFC 9162 inclusion and consistency proofs (``verify_inclusion``,
  ``verify_consistency``);
- C2SP signed notes with Ed25519 signatures (type 0x01) and Ed25519 cosignatures
  (type 0x04), with the rules of Go's ``golang.org/x/mod/sumdb/note`` (``open_note``);
- C2SP tlog-checkpoint bodies (``parse_checkpoint``, ``verify_checkpoint``);
- the JSON proof bundles printed by ``custodes ledger prove``, ``consistency`` and
  ``accounting`` (``verify_inclusion_bundle``, ``verify_consistency_bundle``,
  ``verify_accounting_bundle``, and the command line in ``main``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "MalformedNoteError",
    "NoteSignature",
    "NoteVerifier",
    "OpenedNote",
    "VerificationError",
    "cosignature_message",
    "decode_base64",
    "is_valid_key_name",
    "key_id",
    "leaf_hash",
    "main",
    "node_hash",
    "open_note",
    "parse_checkpoint",
    "parse_vkey",
    "verify_accounting_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_consistency_bundle",
    "verify_inclusion",
    "verify_inclusion_bundle",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 6962 Merkle tree hash of the empty tree: SHA-256 of the empty string."""

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100
"""Go's limit on signature lines per note; a note with more is malformed."""

_SIG_PREFIX = "— "
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
# Go's unicode.IsSpace: Latin-1 spaces plus the Unicode White_Space property.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(chr(c) for c in range(0x2000, 0x200B))
)


class VerificationError(ValueError):
    """A proof, checkpoint or note does not verify; the message says which check failed."""


class MalformedNoteError(VerificationError):
    """The bytes are not a well-formed signed note."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for element in proof:
        if len(element) != HASH_SIZE:
            raise VerificationError(f"proof element has {len(element)} bytes, not {HASH_SIZE}")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 section 2.1.3.2. Raises ``VerificationError`` on any failure.
    """
    if index < 0 or index >= size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise VerificationError(f"leaf hash has {len(leaf)} bytes, not {HASH_SIZE}")
    _check_proof_hashes(proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise VerificationError("inclusion proof does not lead to the root hash")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size1``/``root1`` is a prefix of the tree of ``size2``/``root2``.

    RFC 9162 section 2.1.4.2, with the edge rules of transparency-dev/merkle: a size-0
    old tree is an error (callers that accept the empty tree handle it themselves), and
    equal sizes need an empty proof and identical roots.
    """
    if size1 < 0 or size2 < size1:
        raise VerificationError(f"tree size {size2} is smaller than the old size {size1}")
    if size1 == 0:
        raise VerificationError("a consistency proof from the empty tree is not defined")
    if size1 == size2:
        if proof:
            raise VerificationError("equal tree sizes need an empty consistency proof")
        if root1 != root2:
            raise VerificationError("equal tree sizes have different root hashes")
        return
    if not proof:
        raise VerificationError("consistency proof is empty")
    _check_proof_hashes(proof)
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is longer than expected")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is shorter than expected")
    if fr != root1:
        raise VerificationError("consistency proof does not lead to the old root hash")
    if sr != root2:
        raise VerificationError("consistency proof does not lead to the new root hash")


def decode_base64(text: str) -> bytes:
    """Strict standard padded base64 (RFC 4648 section 4); raises ``MalformedNoteError``."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MalformedNoteError(f"invalid base64 {text!r}") from exc


def is_valid_key_name(name: str) -> bool:
    """A note key name: non-empty, no Unicode space, no '+' (as Go's isValidName)."""
    return bool(name) and "+" not in name and not any(ch in _SPACES for ch in name)


def key_id(name: str, key: bytes) -> int:
    """The 32-bit key ID: first four bytes of SHA-256(name || 0x0A || type || public key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()
    return int.from_bytes(digest[:4], "big")


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a tlog-cosignature/v1 (type 0x04) signs: header, time line, whole checkpoint."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class NoteVerifier:
    """One trusted public key, parsed from a vkey ``name+keyid+base64(type||key)``."""

    name: str
    key_id: int
    algorithm: int
    public_key: bytes

    def verify(self, text: str, signature: bytes) -> bool:
        """Whether ``signature`` (key ID stripped) is valid over the note ``text``."""
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        if self.algorithm == ALG_COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp >= 1 << 63:
                return False
            message, signature = cosignature_message(text, timestamp), signature[8:]
        else:
            message = text.encode("utf-8")
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @property
    def vkey(self) -> str:
        """The verifier key string in note format."""
        encoded = base64.b64encode(bytes([self.algorithm]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"


def parse_vkey(vkey: str) -> NoteVerifier:
    """Parse a verifier key ``name+keyid+base64(type||pubkey)``; Ed25519 (0x01) or 0x04."""
    name, _, rest = vkey.partition("+")
    hash16, _, key64 = rest.partition("+")
    if not _HEX8.fullmatch(hash16) or not is_valid_key_name(name):
        raise VerificationError(f"malformed verifier key {vkey!r}")
    try:
        key = decode_base64(key64)
    except MalformedNoteError as exc:
        raise VerificationError(f"malformed verifier key {vkey!r}") from exc
    if not key:
        raise VerificationError(f"malformed verifier key {vkey!r}")
    if int(hash16, 16) != key_id(name, key):
        raise VerificationError(f"verifier key {vkey!r} has the wrong key ID")
    if key[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1):
        raise VerificationError(f"verifier key {vkey!r} has unknown algorithm {key[0]:#04x}")
    if len(key) != 33:
        raise VerificationError(f"verifier key {vkey!r} is not a 32-byte Ed25519 key")
    return NoteVerifier(name=name, key_id=int(hash16, 16), algorithm=key[0], public_key=key[1:])


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note: key name, key ID and the base64 after the name."""

    name: str
    key_id: int
    base64: str

    @property
    def line(self) -> str:
        """The signature line, with its em dash prefix and final newline."""
        return f"{_SIG_PREFIX}{self.name} {self.base64}\n"


@dataclass(frozen=True)
class OpenedNote:
    """A note whose text is authenticated by at least one known key."""

    text: str
    signatures: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def _split_note(msg: bytes) -> tuple[str, list[str]]:
    try:
        decoded = msg.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNoteError("note is not valid UTF-8") from exc
    if any(ch < " " and ch != "\n" for ch in decoded):
        raise MalformedNoteError("note contains a control character")
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no signature block")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("note signature block does not end in a newline")
    return text, block[:-1].split("\n")


def _parse_signature_line(line: str) -> tuple[NoteSignature, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise MalformedNoteError(f"note line {line!r} is not a signature")
    name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    raw = decode_base64(b64)
    if not is_valid_key_name(name) or not b64 or len(raw) < 5:
        raise MalformedNoteError(f"note signature line {line!r} is malformed")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), b64), raw[4:]


def open_note(msg: bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Parse and authenticate a signed note, with the rules of Go's ``note.Open``.

    Signatures by unknown keys are kept as unverified; a known key whose signature fails
    rejects the note; a note with no verified signature is rejected.
    """
    known: dict[tuple[str, int], list[NoteVerifier]] = {}
    for v in verifiers:
        known.setdefault((v.name, v.key_id), []).append(v)
    text, lines = _split_note(msg)
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"note has more than {MAX_SIGNATURES} signatures")
    parsed = [_parse_signature_line(line) for line in lines]
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen: set[tuple[str, int]] = set()
    for sig, raw in parsed:
        ident = (sig.name, sig.key_id)
        candidates = known.get(ident)
        if candidates is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if len(candidates) > 1:
            raise VerificationError(f"ambiguous key {sig.name}+{sig.key_id:08x}")
        if ident in seen:
            continue
        seen.add(ident)
        if not candidates[0].verify(text, raw):
            raise VerificationError(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        verified.append(sig)
    if not verified:
        raise VerificationError("note has no verifiable signatures")
    return OpenedNote(text, tuple(verified), tuple(unverified))


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The checkpoint as note text, every line ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(line + "\n" for line in [*lines, *self.extensions])


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse the note text of a checkpoint, strictly (no leading zeroes, canonical base64)."""
    if not text.endswith("\n"):
        raise VerificationError("checkpoint does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise VerificationError("checkpoint needs origin, size and root hash on non-empty lines")
    origin, size_line, root_line = lines[:3]
    if not _DECIMAL.fullmatch(size_line) or int(size_line) >= 1 << 63:
        raise VerificationError(f"checkpoint tree size {size_line!r} is not a decimal")
    try:
        root = decode_base64(root_line)
    except MalformedNoteError as exc:
        raise VerificationError(f"checkpoint root hash {root_line!r} is not base64") from exc
    if len(root) != HASH_SIZE or base64.b64encode(root).decode() != root_line:
        raise VerificationError(f"checkpoint root hash {root_line!r} is not 32 bytes of base64")
    return Checkpoint(origin, int(size_line), root, tuple(lines[3:]))


def verify_checkpoint(note: bytes | str, log_key: NoteVerifier, origin: str | None = None) -> Checkpoint:
    """Authenticate a signed checkpoint with the log's key; its origin must be ``origin``.

    ``origin`` defaults to the key name, as C2SP recommends.
    """
    msg = note.encode("utf-8") if isinstance(note, str) else note
    if log_key.algorithm != ALG_ED25519:
        raise VerificationError("a log checkpoint must be checked with an Ed25519 (0x01) key")
    opened = open_note(msg, [log_key])
    checkpoint = parse_checkpoint(opened.text)
    expected = log_key.name if origin is None else origin
    if checkpoint.origin != expected:
        raise VerificationError(f"checkpoint origin {checkpoint.origin!r} is not {expected!r}")
    return checkpoint


def _hex_list(values: object, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise VerificationError(f"{what} must be a list of hex hashes")
    try:
        return [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise VerificationError(f"{what} must be a list of hex hashes") from exc


def _int_field(bundle: Mapping[str, object], key: str) -> int:
    value = bundle.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise VerificationError(f"proof bundle field {key!r} must be an integer")
    return value


def _str_field(bundle: Mapping[str, object], key: str) -> str:
    value = bundle.get(key)
    if not isinstance(value, str):
        raise VerificationError(f"proof bundle field {key!r} must be a string")
    return value


def verify_inclusion_bundle(
    bundle: Mapping[str, object], log_key: NoteVerifier, checkpoint: Checkpoint | None = None
) -> bytes:
    """Verify a ``custodes ledger prove`` bundle and return the proven entry bytes.

    The bundle holds ``leaf_index``, ``tree_size``, ``entry_b64``, ``inclusion_path`` (hex)
    and ``checkpoint`` (a signed note). Pass ``checkpoint`` to check the proof against a
    checkpoint already held instead; then the bundle's tree size must equal it.
    """
    if checkpoint is None:
        checkpoint = verify_checkpoint(_str_field(bundle, "checkpoint"), log_key)
    size = _int_field(bundle, "tree_size")
    if size != checkpoint.size:
        raise VerificationError(f"proof is for tree size {size}, checkpoint has {checkpoint.size}")
    try:
        entry = decode_base64(_str_field(bundle, "entry_b64"))
    except MalformedNoteError as exc:
        raise VerificationError("entry_b64 is not base64") from exc
    path = _hex_list(bundle.get("inclusion_path"), "inclusion_path")
    verify_inclusion(leaf_hash(entry), _int_field(bundle, "leaf_index"), size, path, checkpoint.root_hash)
    return entry


def verify_consistency_bundle(
    bundle: Mapping[str, object], log_key: NoteVerifier, old: Checkpoint | None = None
) -> tuple[Checkpoint, Checkpoint]:
    """Verify a ``custodes ledger consistency`` bundle; return the (old, new) checkpoints.

    ``old`` is a checkpoint the overseer already holds; without it the bundle's own
    ``checkpoint_from`` is used.
    """
    if old is None:
        old = verify_checkpoint(_str_field(bundle, "checkpoint_from"), log_key)
    # Both are checked against the one log key and its origin, so they name the same log.
    new = verify_checkpoint(_str_field(bundle, "checkpoint_to"), log_key)
    proof = _hex_list(bundle.get("proof"), "proof")
    verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
    return old, new


def verify_accounting_bundle(
    bundle: Mapping[str, object], log_key: NoteVerifier, commitment: str | None = None
) -> list[dict[str, object]]:
    """Verify a ``custodes ledger accounting --format json`` bundle; return the acts.

    Every act must be included under the bundle's signed checkpoint and must carry the
    taxpayer commitment (``commitment`` if given, else the bundle's own).
    """
    checkpoint = verify_checkpoint(_str_field(bundle, "checkpoint"), log_key)
    expected = _str_field(bundle, "taxpayer") if commitment is None else commitment
    acts = bundle.get("acts")
    if not isinstance(acts, list):
        raise VerificationError("accounting bundle field 'acts' must be a list")
    entries: list[dict[str, object]] = []
    for act in acts:
        if not isinstance(act, dict):
            raise VerificationError("each accounting act must be an object")
        decoded = _json_object(verify_inclusion_bundle(act, log_key, checkpoint), "an entry")
        if decoded.get("taxpayer") != expected:
            raise VerificationError(f"entry {act.get('leaf_index')} is not about taxpayer {expected}")
        entries.append(decoded)
    return entries


def _json_object(raw: bytes | str, what: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VerificationError(f"{what} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise VerificationError(f"{what} is not a JSON object")
    return value


def _read_json(path: str) -> Mapping[str, object]:
    return _json_object(Path(path).read_bytes(), path)


def _cmd_checkpoint(args: argparse.Namespace, key: NoteVerifier) -> str:
    checkpoint = verify_checkpoint(Path(args.file).read_bytes(), key)
    return f"OK checkpoint {checkpoint.origin} size {checkpoint.size}"


def _cmd_proof(args: argparse.Namespace, key: NoteVerifier) -> str:
    bundle = _read_json(args.file)
    entry = verify_inclusion_bundle(bundle, key)
    return f"OK entry {bundle['leaf_index']} is in the log: {entry.decode('utf-8', 'replace')}"


def _cmd_consistency(args: argparse.Namespace, key: NoteVerifier) -> str:
    old = None
    if args.old is not None:
        old = verify_checkpoint(Path(args.old).read_bytes(), key)
    first, second = verify_consistency_bundle(_read_json(args.file), key, old)
    return f"OK size {first.size} is a prefix of size {second.size}"


def _cmd_accounting(args: argparse.Namespace, key: NoteVerifier) -> str:
    acts = verify_accounting_bundle(_read_json(args.file), key, args.commitment)
    return f"OK {len(acts)} acts verified"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: verify a checkpoint or a proof bundle; exit 0 if it verifies, else 1."""
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Verify custodes accounting-log checkpoints and proofs."
    )
    parser.add_argument("--key", required=True, help="the log's verifier key (name+id+key)")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Callable[[argparse.Namespace, NoteVerifier], str]] = {
        "checkpoint": _cmd_checkpoint,
        "proof": _cmd_proof,
        "consistency": _cmd_consistency,
        "accounting": _cmd_accounting,
    }
    for name in commands:
        command = sub.add_parser(name)
        command.add_argument("file", help="the signed note or JSON bundle")
    sub.choices["consistency"].add_argument("--old", help="a checkpoint you already hold")
    sub.choices["accounting"].add_argument("--commitment", help="the taxpayer commitment (hex)")
    args = parser.parse_args(argv)
    try:
        key = parse_vkey(args.key)
        print(commands[args.command](args, key))
    except (VerificationError, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised by running the file as a script
    sys.exit(main())
