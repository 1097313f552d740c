"""What goes into the log: canonical entry bytes, taxpayer commitments and lookup keys.

Entries are canonical JSON (docs/ledger.md): UTF-8, no whitespace, object keys sorted by
UTF-16 code units, strings escaped only where JSON requires (as RFC 8785 does), integers
only (|n| < 2**53), times as RFC 3339 UTC with microseconds and ``Z``. No floats. A
taxpayer appears only as ``HMAC-SHA256(custodian_secret, tin)`` in lowercase hex.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from custodes.errors import LedgerError

ENTRY_VERSION = 1
MAX_ENTRY_SIZE = 65535
"""tlog-tiles entry bundles prefix each entry with a 16-bit length."""

_MAX_INT = (1 << 53) - 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_is_sha256_hex = _SHA256_HEX.fullmatch
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

RESERVED_KEYS = frozenset({"type", "v", "taxpayer"})


@dataclass(frozen=True)
class DecisionEntry:
    """One decision of a batch, as the gateway hands it to the log."""

    batch_id: str
    request_id: str
    agency: str
    basis: str
    outcome: str
    reason: str
    profile: str
    disclosed_sha256: str
    """SHA-256 (hex) of exactly what was disclosed for this request."""
    tin: str | None
    """The matched taxpayer's TIN; it enters the log only as an HMAC commitment."""
    at: datetime


def format_time(at: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-25T09:30:00.000000Z``."""
    if at.utcoffset() is None:
        raise LedgerError(f"log times must be timezone-aware, got naive {at.isoformat()}")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _utf16_order(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _canonical(value: object, where: str) -> object:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise LedgerError(f"{where}: integer {value} is too large for canonical JSON")
        return int(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise LedgerError(f"{where}: object keys must be strings")
        return {key: _canonical(value[key], f"{where}.{key}") for key in sorted(value, key=_utf16_order)}
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise LedgerError(
        f"{where}: a {type(value).__name__} cannot go into a log entry; use a string, an "
        "integer, a boolean, null, a list, an object or a timezone-aware datetime"
    )


def canonical_json(value: object) -> bytes:
    """The canonical bytes of a JSON value (see the module docstring)."""
    text = _dumps(_canonical(value, "entry"))
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LedgerError("a log entry holds text that is not valid Unicode") from exc
    if len(data) > MAX_ENTRY_SIZE:
        raise LedgerError(f"a log entry of {len(data)} bytes exceeds {MAX_ENTRY_SIZE} bytes")
    return data


def normalize_tin(tin: str) -> bytes:
    """The TIN as the 9 ASCII digits the commitment is taken over (dashes and spaces dropped)."""
    digits = tin.replace("-", "").replace(" ", "")
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        raise LedgerError("a TIN must be 9 digits (the value is not shown, it is confidential)")
    return digits.encode("ascii")


def commitment(secret: bytes, tin: str) -> bytes:
    """HMAC-SHA256(custodian_secret, tin): the only form in which a taxpayer enters the log."""
    return hmac.digest(secret, normalize_tin(tin), "sha256")


class _Hmac:
    """HMAC-SHA256 with the keyed inner and outer states computed once (RFC 2104).

    ``hmac.digest`` re-keys on every call; copying the two keyed SHA-256 states is
    about twice as fast, which matters at a million commitments per batch.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def lookup_key(digest: bytes) -> int:
    """A signed 64-bit lookup key from the first 8 bytes of a digest."""
    return int.from_bytes(digest[:8], "big", signed=True)


def request_key(batch_id: str, request_id: str) -> int:
    """Lookup key of the entries about one request of one batch."""
    payload = b"request\x00" + batch_id.encode("utf-8", "surrogatepass") + b"\x00"
    return lookup_key(hashlib.sha256(payload + request_id.encode("utf-8", "surrogatepass")).digest())


def batch_key(batch_id: str) -> int:
    """Lookup key of a batch's own entry."""
    return lookup_key(hashlib.sha256(b"batch\x00" + batch_id.encode("utf-8", "surrogatepass")).digest())


KIND_DECISION, KIND_BATCH, KIND_EVENT = 0, 1, 2
KINDS = {"decision": KIND_DECISION, "batch": KIND_BATCH, "event": KIND_EVENT}
"""Entry type to the ``kind`` column: decisions are not in the request-key index."""

EncodedEntry = tuple[int, int | None, int | None, bytes]
"""(kind, request key, taxpayer key, entry bytes)."""

EntryRow = tuple[int, int, int | None, int | None, bytes]
"""A stored entry: (index, kind, request key, taxpayer key, entry bytes)."""


def encode_mapping(
    entry: Mapping[str, object], secret: bytes, entry_type: str, extra: Mapping[str, object]
) -> EncodedEntry:
    """Encode a batch or event entry; a ``tin`` key becomes the ``taxpayer`` commitment."""
    clash = (RESERVED_KEYS | set(extra)) & set(entry)
    if clash:
        raise LedgerError(f"log entry keys {sorted(clash)} are set by the ledger, not the caller")
    fields: dict[str, object] = {**entry, **extra, "type": entry_type, "v": ENTRY_VERSION}
    taxpayer_key: int | None = None
    if "tin" in fields:
        tin = fields.pop("tin")
        if tin is None:
            fields["taxpayer"] = None
        elif isinstance(tin, str):
            digest = commitment(secret, tin)
            fields["taxpayer"] = digest.hex()
            taxpayer_key = lookup_key(digest)
        else:
            raise LedgerError("a log entry's tin must be a string or null")
    return KINDS[entry_type], entry_request_key(fields), taxpayer_key, canonical_json(fields)


def entry_request_key(entry: Mapping[str, object]) -> int | None:
    """The request lookup key an entry is filed under (from batch_id and request_id)."""
    batch_id, request_id = entry.get("batch_id"), entry.get("request_id")
    if not isinstance(batch_id, str):
        return None
    return request_key(batch_id, request_id) if isinstance(request_id, str) else batch_key(batch_id)


def entry_taxpayer_key(entry: Mapping[str, object]) -> int | None:
    """The taxpayer lookup key an entry is filed under (from its commitment)."""
    taxpayer = entry.get("taxpayer")
    if not isinstance(taxpayer, str) or not _SHA256_HEX.fullmatch(taxpayer):
        return None
    return lookup_key(bytes.fromhex(taxpayer))


class DecisionEncoder:
    """Encodes the decisions of one batch to canonical entries, fast.

    The JSON text around the three per-request values (disclosed hash, request id,
    taxpayer) depends only on a few repeated fields, so it is built once per combination.
    """

    def __init__(self, secret: bytes, batch_id: str) -> None:
        self._hmac = _Hmac(secret)
        self._batch_id = batch_id
        self._prefix = b"request\x00" + batch_id.encode("utf-8", "surrogatepass") + b"\x00"
        self._heads: dict[tuple[object, ...], str] = {}
        self._middles: dict[tuple[object, ...], str] = {}

    def _head(self, d: DecisionEntry) -> str:
        if d.batch_id != self._batch_id:
            raise LedgerError(
                f"decision {d.request_id!r} belongs to batch {d.batch_id!r}, not {self._batch_id!r}"
            )
        fields = {"agency": d.agency, "basis": d.basis, "batch_id": d.batch_id}
        _require_strings(fields)
        return (
            f'{{"agency":{_dumps(d.agency)},"at":{_dumps(format_time(d.at))},'
            f'"basis":{_dumps(d.basis)},"batch_id":{_dumps(d.batch_id)},"disclosed_sha256":"'
        )

    @staticmethod
    def _middle(d: DecisionEntry) -> str:
        _require_strings({"outcome": d.outcome, "profile": d.profile, "reason": d.reason})
        return (
            f'","outcome":{_dumps(d.outcome)},"profile":{_dumps(d.profile)},'
            f'"reason":{_dumps(d.reason)},"request_id":'
        )

    def encode(
        self, decisions: Sequence[DecisionEntry], first_index: int
    ) -> tuple[list[EntryRow], list[bytes]]:
        """Entry rows for decisions from ``first_index`` on, and their leaf hashes.

        Each entry equals ``canonical_json`` of the decision's fields.
        """
        heads, middles, hmac_digest, prefix = self._heads, self._middles, self._hmac.digest, self._prefix
        sha256, from_bytes, is_hex = hashlib.sha256, int.from_bytes, _is_sha256_hex
        rows: list[EntryRow] = []
        leaves: list[bytes] = []
        add_row, add_leaf = rows.append, leaves.append
        for index, d in enumerate(decisions, first_index):
            head = heads.get((d.agency, d.at, d.basis, d.batch_id))
            if head is None:
                head = heads[(d.agency, d.at, d.basis, d.batch_id)] = self._head(d)
            middle = middles.get((d.outcome, d.profile, d.reason))
            if middle is None:
                middle = middles[(d.outcome, d.profile, d.reason)] = self._middle(d)
            tin = d.tin
            if tin is None:
                taxpayer, taxpayer_key = "null", None
            else:
                raw = (
                    tin.encode() if len(tin) == 9 and tin.isascii() and tin.isdigit() else normalize_tin(tin)
                )
                digest = hmac_digest(raw)
                taxpayer, taxpayer_key = f'"{digest.hex()}"', from_bytes(digest[:8], "big", signed=True)
            disclosed, request_id = d.disclosed_sha256, d.request_id
            if not isinstance(disclosed, str) or not is_hex(disclosed):
                raise LedgerError("decision field disclosed_sha256 must be 64 lowercase hex digits")
            if not isinstance(request_id, str):
                raise LedgerError("decision field request_id must be a string")
            try:
                data = (
                    f"{head}{disclosed}{middle}{_dumps(request_id)},"
                    f'"taxpayer":{taxpayer},"type":"decision","v":{ENTRY_VERSION}}}'
                ).encode()
                request_digest = sha256(prefix + request_id.encode()).digest()
            except UnicodeEncodeError as exc:
                raise LedgerError("a decision holds text that is not valid Unicode") from exc
            if len(data) > MAX_ENTRY_SIZE:
                raise LedgerError(f"a decision entry of {len(data)} bytes exceeds {MAX_ENTRY_SIZE}")
            add_row(
                (index, KIND_DECISION, from_bytes(request_digest[:8], "big", signed=True), taxpayer_key, data)
            )
            add_leaf(sha256(b"\x00" + data).digest())
        return rows, leaves


def _require_strings(fields: Mapping[str, object]) -> None:
    for name, value in fields.items():
        if not isinstance(value, str):
            raise LedgerError(f"decision field {name} must be a string")
