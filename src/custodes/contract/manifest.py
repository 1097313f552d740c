"""The batch manifest: the legal elements of a request, read into typed fields.

Where the line falls between a broken manifest and an insufficient one:

- **Structurally broken: ``ManifestError`` (exit code 2, nothing is processed or recorded).**
  The file is not UTF-8 JSON, is not an object, repeats a key, lacks a required key, has a key
  the contract does not know, or a value of the wrong type: a string that is not a string,
  ``taxable_periods`` that is not a list of four-digit years, ``submitted_at`` that is not an
  RFC 3339 timestamp with an offset, a court-order date that is not ``YYYY-MM-DD``, a
  ``record_count`` that is not a non-negative integer, an unknown ``disclosure_profile``, a
  blank ``batch_id`` (the batch could not be recorded under it).
- **Legally insufficient: parsed, then refused by ``custodes.legal`` with a reason code**, so
  every row is ``refused`` and the refusal is recorded. A key that is present but empty or
  wrong in substance: a blank or unregistered agency, an unknown legal basis, a blank or
  unauthorised signer, a blank or Title 26 statute, ``taxable_periods: []``, a blank or
  boilerplate reason, a missing, incomplete or expired court order (``court_order`` is
  optional in the file because only (i)(1) needs it; its own keys may be absent or blank
  and the order is then incomplete), a profile the basis does not permit, and an empty or
  missing officer list where the basis requires one.

String fields are stripped of surrounding whitespace; ``raw`` keeps the file's object as read.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl

from custodes.contract.columns import DISCLOSURE_PROFILES
from custodes.errors import ManifestError

REQUIRED_FIELDS: tuple[str, ...] = (
    "batch_id", "agency", "legal_basis", "statutory_authority", "taxable_periods", "reason",
    "signed_by", "submitted_at",
)  # fmt: skip
OPTIONAL_FIELDS: tuple[str, ...] = (
    "court_order", "disclosure_profile", "batch_file", "record_count", "engaged_officers",
)  # fmt: skip
PERSON_FIELDS: tuple[str, ...] = ("name", "title")
COURT_ORDER_FIELDS: tuple[str, ...] = ("court", "docket", "judge", "signed_on", "expires_on")

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class Signer:
    """Who signed the request."""

    name: str
    title: str


@dataclass(frozen=True)
class Officer:
    """An officer personally and directly engaged in the proceeding."""

    name: str
    title: str


@dataclass(frozen=True)
class CourtOrder:
    """The (i)(1) order's reference. A field the manifest leaves out or blank is None."""

    court: str | None = None
    docket: str | None = None
    judge: str | None = None
    signed_on: date | None = None
    expires_on: date | None = None

    @property
    def is_complete(self) -> bool:
        """Whether every element of the reference is given."""
        return None not in (self.court, self.docket, self.judge, self.signed_on, self.expires_on)


@dataclass(frozen=True)
class Manifest:
    """A batch's manifest, typed. ``raw`` is the JSON object as read; ``sha256`` hashes the file."""

    batch_id: str
    agency: str
    legal_basis: str
    statutory_authority: str
    taxable_periods: tuple[str, ...]
    reason: str
    signed_by: Signer
    submitted_at: datetime
    court_order: CourtOrder | None = None
    disclosure_profile: str = DISCLOSURE_PROFILES[0]
    batch_file: str | None = None
    record_count: int | None = None
    engaged_officers: tuple[Officer, ...] | None = None
    raw: dict[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)
    sha256: str = ""
    path: str = ""


@dataclass(frozen=True)
class _Problem:
    column: str
    message: str
    hint: str


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _load_json(path: Path) -> tuple[dict[str, object], str]:
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(
            f"cannot read the manifest: {exc.strerror}", file=file, hint="check the path"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError(
            f"not UTF-8: byte 0x{data[exc.start]:02x} on line {line} cannot be decoded",
            file=file,
            hint="save the manifest as UTF-8 JSON",
        ) from exc
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            file=file,
            hint="fix the JSON syntax (a validator such as `python -m json.tool` shows where)",
        ) from exc
    except _DuplicateKeyError as exc:
        raise ManifestError(
            f"the key {exc.key!r} appears twice in one object",
            file=file,
            column=exc.key,
            hint="give each key once; custodes will not guess which value was meant",
        ) from exc
    except ValueError as exc:
        raise ManifestError(str(exc), file=file, hint="use only standard JSON values") from exc
    if not isinstance(obj, dict):
        raise ManifestError(
            f"the manifest is a JSON {type(obj).__name__}, not an object",
            file=file,
            hint='write the manifest as one JSON object: {"batch_id": ..., "agency": ..., ...}',
        )
    return obj, digest


def _keys_problems(
    obj: dict[str, object], where: str, required: Sequence[str], optional: Sequence[str]
) -> list[_Problem]:
    problems: list[_Problem] = []
    allowed = (*required, *optional)
    missing = [k for k in required if k not in obj]
    if missing:
        problems.append(
            _Problem(
                f"{where}{missing[0]}",
                f"missing required field(s): {', '.join(where + k for k in missing)}",
                f"add {', '.join(missing)}; a field that does not apply is refused by the legal "
                "checks when present but empty, never silently assumed",
            )
        )
    for key in obj:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            guess = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                _Problem(
                    f"{where}{key}",
                    f"unknown field {where + key!r}{guess}",
                    f"remove it; the accepted fields are: {', '.join(allowed)}",
                )
            )
    return problems


class _Reader:
    """Typed access to one JSON object, collecting every problem instead of stopping at the first."""

    def __init__(self, obj: dict[str, object], where: str, problems: list[_Problem]) -> None:
        self.obj = obj
        self.where = where
        self.problems = problems

    def problem(self, key: str, message: str, hint: str) -> None:
        self.problems.append(_Problem(self.where + key, f"{self.where + key}: {message}", hint))

    def text(self, key: str) -> str:
        value = self.obj.get(key)
        if isinstance(value, str):
            return value.strip()
        if key in self.obj:
            self.problem(key, f"expected a string, got {_json_type(value)}", "write it as a JSON string")
        return ""

    def optional_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value.strip() or None
        self.problem(key, f"expected a string or null, got {_json_type(value)}", "write it as a JSON string")
        return None

    def optional_date(self, key: str) -> date | None:
        text = self.optional_text(key)
        if text is None:
            return None
        if _DATE.match(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        self.problem(key, f"{text!r} is not a date", "write dates as YYYY-MM-DD")
        return None

    def person(self, key: str, value: object) -> tuple[str, str] | None:
        if not isinstance(value, dict):
            self.problem(
                key,
                f"expected an object with name and title, got {_json_type(value)}",
                'write it as {"name": "...", "title": "..."}',
            )
            return None
        inner = _Reader(value, f"{self.where}{key}.", self.problems)
        self.problems.extend(_keys_problems(value, inner.where, PERSON_FIELDS, ()))
        return inner.text("name"), inner.text("title")


def _json_type(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _periods(reader: _Reader) -> tuple[str, ...]:
    value = reader.obj.get("taxable_periods")
    if not isinstance(value, list):
        if "taxable_periods" in reader.obj:
            reader.problem(
                "taxable_periods",
                f"expected a list of years, got {_json_type(value)}",
                'write it as a list, e.g. ["2023", "2024"]',
            )
        return ()
    periods: list[str] = []
    for index, item in enumerate(value):
        text = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else ""
        if _YEAR.match(text):
            periods.append(text)
        else:
            reader.problem(
                f"taxable_periods[{index}]",
                f"{item!r} is not a four-digit year",
                'list each tax year on its own, e.g. ["2023", "2024"]',
            )
    return tuple(periods)


def _submitted_at(reader: _Reader) -> datetime:
    text = reader.text("submitted_at")
    if _RFC3339.match(text):
        try:
            return datetime.fromisoformat(text.upper().replace(" ", "T"))
        except ValueError:
            pass
    if "submitted_at" in reader.obj and isinstance(reader.obj["submitted_at"], str):
        reader.problem(
            "submitted_at",
            f"{text!r} is not an RFC 3339 timestamp",
            "write it with a date, a time and an offset, e.g. 2025-06-01T12:00:00Z",
        )
    return datetime.min


def _court_order(reader: _Reader) -> CourtOrder | None:
    value = reader.obj.get("court_order")
    if value is None:
        return None
    if not isinstance(value, dict):
        reader.problem(
            "court_order",
            f"expected an object, got {_json_type(value)}",
            "give {court, docket, judge, signed_on, expires_on}, or leave court_order out",
        )
        return None
    inner = _Reader(value, "court_order.", reader.problems)
    reader.problems.extend(_keys_problems(value, inner.where, (), COURT_ORDER_FIELDS))
    return CourtOrder(
        court=inner.optional_text("court"),
        docket=inner.optional_text("docket"),
        judge=inner.optional_text("judge"),
        signed_on=inner.optional_date("signed_on"),
        expires_on=inner.optional_date("expires_on"),
    )


def _officers(reader: _Reader) -> tuple[Officer, ...] | None:
    value = reader.obj.get("engaged_officers")
    if value is None:
        return None
    if not isinstance(value, list):
        reader.problem(
            "engaged_officers",
            f"expected a list, got {_json_type(value)}",
            'write it as a list of {"name": ..., "title": ...}',
        )
        return None
    officers = [reader.person(f"engaged_officers[{i}]", item) for i, item in enumerate(value)]
    return tuple(Officer(*o) for o in officers if o is not None)


def _record_count(reader: _Reader) -> int | None:
    value = reader.obj.get("record_count")
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    reader.problem(
        "record_count", f"{value!r} is not a whole number of rows", "give the number of rows, e.g. 1280000"
    )
    return None


def _profile(reader: _Reader) -> str:
    if "disclosure_profile" not in reader.obj:
        return DISCLOSURE_PROFILES[0]
    value = reader.obj["disclosure_profile"]
    if value in DISCLOSURE_PROFILES:
        return str(value)
    reader.problem(
        "disclosure_profile",
        f"{value!r} is not a disclosure profile",
        f"use one of {', '.join(DISCLOSURE_PROFILES)} (or leave it out for {DISCLOSURE_PROFILES[0]})",
    )
    return DISCLOSURE_PROFILES[0]


def read_manifest(path: Path) -> Manifest:
    """The manifest at ``path``, typed; ``ManifestError`` if it is structurally broken.

    Every structural problem is reported at once; legal sufficiency is judged later.
    """
    obj, digest = _load_json(path)
    problems = _keys_problems(obj, "", REQUIRED_FIELDS, OPTIONAL_FIELDS)
    reader = _Reader(obj, "", problems)
    batch_id = reader.text("batch_id")
    if "batch_id" in obj and isinstance(obj["batch_id"], str) and not batch_id:
        reader.problem("batch_id", "is blank", "give the batch an id that is unique for your agency")
    signer = reader.person("signed_by", obj["signed_by"]) if "signed_by" in obj else None
    manifest = Manifest(
        batch_id=batch_id,
        agency=reader.text("agency"),
        legal_basis=reader.text("legal_basis"),
        statutory_authority=reader.text("statutory_authority"),
        taxable_periods=_periods(reader),
        reason=reader.text("reason"),
        signed_by=Signer(*(signer or ("", ""))),
        submitted_at=_submitted_at(reader),
        court_order=_court_order(reader),
        disclosure_profile=_profile(reader),
        batch_file=reader.optional_text("batch_file"),
        record_count=_record_count(reader),
        engaged_officers=_officers(reader),
        raw=obj,
        sha256=digest,
        path=str(path),
    )
    if problems:
        first = problems[0]
        raise ManifestError(
            "; ".join(p.message for p in problems),
            file=str(path),
            column=first.column,
            hint=first.hint,
        )
    return manifest


def check_record_count(manifest: Manifest, requests_path: Path, frame: pl.DataFrame) -> None:
    """Raise ``ManifestError`` when ``batch_file`` or ``record_count`` disagree with the batch received."""
    if manifest.batch_file is not None and Path(manifest.batch_file).name != requests_path.name:
        raise ManifestError(
            f"batch_file names {manifest.batch_file!r} but the batch received is {requests_path.name!r}",
            file=manifest.path or None,
            column="batch_file",
            hint="submit the manifest together with the batch file it describes",
        )
    if manifest.record_count is not None and manifest.record_count != frame.height:
        raise ManifestError(
            f"record_count is {manifest.record_count} but the batch {requests_path.name!r} "
            f"holds {frame.height} rows",
            file=manifest.path or None,
            column="record_count",
            hint="a batch that lost or gained rows in transit is refused; resend the full file, "
            "or correct record_count",
        )
