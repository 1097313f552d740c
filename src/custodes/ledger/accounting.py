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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import count, groupby, repeat

import numpy as np

from custodes.errors import LedgerError

ENTRY_VERSION = 1
MAX_ENTRY_SIZE = 65535
"""tlog-tiles entry bundles prefix each entry with a 16-bit length."""

_MAX_INT = (1 << 53) - 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
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
    about three times as fast, which matters at a million commitments per batch.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digests(self, messages: Iterable[bytes]) -> list[bytes]:
        """The HMAC of every message, in order."""
        return hash_all(self._outer, hash_all(self._inner, messages))


def hash_all(state: hashlib._Hash, messages: Iterable[bytes]) -> list[bytes]:
    """SHA-256 of ``state``'s input followed by each message, for every message in order."""
    # Copying a primed state beats hashing prefix + message: no concatenation, no new object.
    out: list[bytes] = []
    add, copy = out.append, state.copy
    for message in messages:
        hashed = copy()
        hashed.update(message)
        add(hashed.digest())
    return out


def lookup_keys(digests: Sequence[bytes]) -> list[int]:
    """``lookup_key`` of every digest (all 32 bytes long), at once."""
    return np.frombuffer(b"".join(digests), ">i8")[::HASH_WORDS].tolist()  # type: ignore[no-any-return]


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


@dataclass(frozen=True)
class DecisionColumns:
    """The decisions of one batch as columns, the form the gateway holds them in.

    A batch has one agency, basis, disclosure profile and decision time; every other field
    is one sequence, all of the same length, in request order.
    """

    batch_id: str
    agency: str
    basis: str
    profile: str
    at: datetime
    request_ids: Sequence[str]
    outcomes: Sequence[str]
    reasons: Sequence[str]
    disclosed_sha256: Sequence[str]
    """SHA-256 (hex) of exactly what was disclosed for each request."""
    tins: Sequence[str | None]
    """The matched taxpayer's TIN per request, or None; it enters the log only as a commitment."""

    def __post_init__(self) -> None:
        lengths = {
            name: len(getattr(self, name))
            for name in ("request_ids", "outcomes", "reasons", "disclosed_sha256", "tins")
        }
        if len(set(lengths.values())) > 1:
            raise LedgerError(f"the decision columns differ in length: {lengths}")

    def __len__(self) -> int:
        return len(self.request_ids)

    def rows(self, start: int, stop: int) -> DecisionColumns:
        """The decisions ``[start, stop)`` of the batch."""
        return replace(
            self,
            request_ids=self.request_ids[start:stop],
            outcomes=self.outcomes[start:stop],
            reasons=self.reasons[start:stop],
            disclosed_sha256=self.disclosed_sha256[start:stop],
            tins=self.tins[start:stop],
        )


@dataclass(frozen=True)
class EncodedDecisions:
    """Consecutive decision entries ready to store: their row columns and leaf hashes."""

    first_index: int
    request_keys: list[int]
    taxpayer_keys: list[int | None]
    entries: list[bytes]
    leaves: list[bytes]

    def rows(self) -> Iterator[EntryRow]:
        """The stored rows (index, kind, request key, taxpayer key, entry bytes)."""
        return zip(
            count(self.first_index),
            repeat(KIND_DECISION),
            self.request_keys,
            self.taxpayer_keys,
            self.entries,
            strict=False,
        )

    def extend(self, other: EncodedDecisions) -> None:
        """Append the entries that follow these."""
        self.request_keys.extend(other.request_keys)
        self.taxpayer_keys.extend(other.taxpayer_keys)
        self.entries.extend(other.entries)
        self.leaves.extend(other.leaves)


_ESCAPED = bytes(range(0x20)) + b'"\\'
"""The bytes of the characters ``_dumps`` escapes: control characters, quote, backslash."""
_HEX_DIGITS = b"0123456789abcdef"
_LEAF_STATE = hashlib.sha256(b"\x00")
"""RFC 6962 leaf hashing, primed with the leaf prefix."""
HASH_WORDS = 4
"""64-bit words in a SHA-256 digest."""


def _constants(d: DecisionEntry) -> tuple[object, ...]:
    return (d.batch_id, d.agency, d.basis, d.profile, d.at)


class DecisionEncoder:
    """Encodes the decisions of one batch to canonical entries, a column at a time.

    Each entry equals ``canonical_json`` of the decision's fields. Its JSON text around the
    per-request values depends only on the batch's constants and the (outcome, reason)
    pair, so it is built once; the per-request work is the taxpayer commitment, string
    joins and two SHA-256 hashes (the leaf and the request key), with no per-row objects.
    """

    def __init__(self, secret: bytes, batch_id: str) -> None:
        self._hmac = _Hmac(secret)
        self._batch_id = batch_id
        self._request_state = hashlib.sha256(
            b"request\x00" + batch_id.encode("utf-8", "surrogatepass") + b"\x00"
        )

    def encode(self, decisions: Sequence[DecisionEntry], first_index: int) -> EncodedDecisions:
        """Encode decisions given one object each (runs sharing the batch's constants at once)."""
        out = EncodedDecisions(first_index, [], [], [], [])
        index = first_index
        for (batch_id, agency, basis, profile, at), group in groupby(decisions, key=_constants):
            run = list(group)
            columns = DecisionColumns(
                batch_id=batch_id,  # type: ignore[arg-type]
                agency=agency,  # type: ignore[arg-type]
                basis=basis,  # type: ignore[arg-type]
                profile=profile,  # type: ignore[arg-type]
                at=at,  # type: ignore[arg-type]
                request_ids=[d.request_id for d in run],
                outcomes=[d.outcome for d in run],
                reasons=[d.reason for d in run],
                disclosed_sha256=[d.disclosed_sha256 for d in run],
                tins=[d.tin for d in run],
            )
            out.extend(self.encode_columns(columns, index))
            index += len(run)
        return out

    def _head(self, columns: DecisionColumns) -> str:
        if columns.batch_id != self._batch_id:
            raise LedgerError(
                f"decisions that belong to batch {columns.batch_id!r} cannot be logged "
                f"in batch {self._batch_id!r}"
            )
        fields = {"agency": columns.agency, "basis": columns.basis, "profile": columns.profile}
        _require_strings(fields)
        return (
            f'{{"agency":{_dumps(columns.agency)},"at":{_dumps(format_time(columns.at))},'
            f'"basis":{_dumps(columns.basis)},"batch_id":{_dumps(columns.batch_id)},"disclosed_sha256":"'
        )

    @staticmethod
    def _middles(columns: DecisionColumns) -> dict[tuple[str, str], str]:
        try:
            pairs = set(zip(columns.outcomes, columns.reasons, strict=True))
        except TypeError as exc:
            raise LedgerError("decision fields outcome and reason must be strings") from exc
        middles: dict[tuple[str, str], str] = {}
        profile = _dumps(columns.profile)
        for outcome, reason in pairs:
            _require_strings({"outcome": outcome, "reason": reason})
            middles[outcome, reason] = (
                f'","outcome":{_dumps(outcome)},"profile":{profile},"reason":{_dumps(reason)},"request_id":'
            )
        return middles

    def _commitments(self, tins: Sequence[str | None]) -> list[bytes]:
        """The commitment of every TIN that is not None, in order."""
        present = [tin for tin in tins if tin is not None]
        try:
            joined = "".join(present)
        except TypeError as exc:
            raise LedgerError("decision field tin must be a string or null") from exc
        if joined.isascii() and joined.isdigit() and set(map(len, present)) == {9}:
            return self._hmac.digests(tin.encode() for tin in present)
        return self._hmac.digests(normalize_tin(tin) for tin in present)

    def encode_columns(self, columns: DecisionColumns, first_index: int) -> EncodedDecisions:
        """Entries for the decisions in ``columns``, from leaf index ``first_index`` on."""
        head = self._head(columns)
        middles = self._middles(columns)
        disclosed, request_ids, tins = columns.disclosed_sha256, columns.request_ids, columns.tins
        try:
            joined_disclosed = "".join(disclosed).encode()
        except TypeError as exc:
            raise LedgerError("decision field disclosed_sha256 must be 64 lowercase hex digits") from exc
        if joined_disclosed.translate(None, _HEX_DIGITS) or set(map(len, disclosed)) - {64}:
            raise LedgerError("decision field disclosed_sha256 must be 64 lowercase hex digits")
        try:
            raw_ids = [request_id.encode() for request_id in request_ids]
        except AttributeError as exc:
            raise LedgerError("decision field request_id must be a string") from exc
        except UnicodeEncodeError as exc:
            raise LedgerError("a decision holds text that is not valid Unicode") from exc
        joined_ids = b"".join(raw_ids)
        if len(joined_ids.translate(None, _ESCAPED)) != len(joined_ids):
            quoted = [_dumps(request_id) for request_id in request_ids]
        else:
            quoted = [f'"{request_id}"' for request_id in request_ids]
        commitments = self._commitments(tins)
        hexes = iter([f',"taxpayer":"{digest.hex()}"' for digest in commitments])
        taxpayers = [',"taxpayer":null' if tin is None else next(hexes) for tin in tins]
        tail = f',"type":"decision","v":{ENTRY_VERSION}}}'
        parts = zip(disclosed, columns.outcomes, columns.reasons, quoted, taxpayers, strict=True)
        try:
            entries = [f"{head}{d}{middles[o, r]}{q}{t}{tail}".encode() for d, o, r, q, t in parts]
        except UnicodeEncodeError as exc:
            raise LedgerError("a decision holds text that is not valid Unicode") from exc
        if entries and max(map(len, entries)) > MAX_ENTRY_SIZE:
            size = max(map(len, entries))
            raise LedgerError(f"a decision entry of {size} bytes exceeds {MAX_ENTRY_SIZE}")
        keys = iter(lookup_keys(commitments))
        return EncodedDecisions(
            first_index=first_index,
            request_keys=lookup_keys(hash_all(self._request_state, raw_ids)),
            taxpayer_keys=[None if tin is None else next(keys) for tin in tins],
            entries=entries,
            leaves=hash_all(_LEAF_STATE, entries),
        )


def _require_strings(fields: Mapping[str, object]) -> None:
    for name, value in fields.items():
        if not isinstance(value, str):
            raise LedgerError(f"decision field {name} must be a string")
