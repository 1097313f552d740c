"""Per-subject legal elements: one set of predicates, decided twice.

``subject_facts`` computes, for every row, the facts the law turns on (is there a name? a
deliverable street? an acceptable TIN? a case reference?). Batches decide on them with a
vectorised rule (``check_subjects``); single requests decide on them with the Cedar
policies in ``subject.cedar`` (``check_subject``). A test holds both to the same answer.

What each fact accepts:

- **name_present**: first and last name each hold a letter and are not a placeholder
  (``UNKNOWN``, ``N/A``, ``NONE``, ``FNU``/``LNU`` "first/last name unknown", ``NFN``/``NLN``,
  ``TBD``, ``REFUSED``, ``X``/``XXX``, ``TEST``), nor made only of such words; the given
  name is not a description (``BABY GIRL``, ``MALE CHILD``, ``SON OF``, ``SENORA``,
  ``DESCRIPTOR_FIRST_WORDS``) and the surname not a household role (``OCCUPANT``,
  ``OF THE HOUSE``, ``DESCRIPTOR_LAST``).
- **street_present / street_deliverable**: see ``custodes.legal.addresses``.
- **tin_acceptable**: a blank TIN is fine (it is optional). A given TIN must be nine digits
  once dashes and spaces are removed, and possible: never area 000 or 666, group 00, or
  serial 0000; an area 9xx is an ITIN, whose group must be 50-65, 70-88, 90-92 or 94-99
  (the IRS ranges). A right TIN never stands in for the address element.
- **case_reference_present**: not blank; required only where the basis says so.

A basis whose ``address_check`` is ``not_blank`` (the 2025 rule, kept only so that batches
decided under it can be replayed and remediated) reads ``street_deliverable`` as
``street_present``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import polars as pl

from custodes.codes import SUBJECT_REASONS, Reason
from custodes.config import BasisRule
from custodes.legal.addresses import deliverable_streets, deliverable_value
from custodes.legal.batch import basis_entity
from custodes.legal.cedar import entity, load_policies, refusals

SUBJECT_COLUMNS: tuple[str, ...] = ("first_name", "last_name", "street", "tin", "case_reference")
"""The request columns the per-subject elements read."""

FACTS: tuple[str, ...] = (
    "name_present", "street_present", "street_deliverable", "tin_acceptable", "case_reference_present",
)  # fmt: skip

PLACEHOLDER_NAME_WORDS: tuple[str, ...] = (
    "UNKNOWN", "UNK", "UNKN", "NONE", "NULL", "NIL", "N/A", "N\\.A\\.?", "FNU", "LNU", "NFN", "NLN",
    "NMN", "TBD", "REFUSED", "NOT PROVIDED", "NO NAME", "NONAME", "X+", "TEST", "DUMMY", "FAKE",
)  # fmt: skip
"""Regular-expression alternatives for names that say the name is not known."""

_PLACEHOLDER_NAME = r"^(?:(?:" + "|".join(PLACEHOLDER_NAME_WORDS) + r")(?:[\s.,;:/-]+|$))+$"

DESCRIPTOR_FIRST_WORDS: tuple[str, ...] = (
    "BABY", "INFANT", "NEWBORN", "CHILD", "BOY", "GIRL", "MALE", "FEMALE", "DAUGHTER", "SISTER",
    "BROTHER", "NEPHEW", "NIECE", "COUSIN", "HIJA", "HIJO", "SENORA", "SENOR", "SENORITA", "MR",
    "MRS", "MS", "MISS", "MISTER", "GENTLEMAN", "WIFE", "HUSBAND", "SPOUSE", "GRANDCHILD",
    "GRANDSON", "GRANDDAUGHTER", "STEPCHILD", "STEPSON", "STEPDAUGHTER", "RESIDENT", "OCCUPANT",
    "HOUSEHOLD", "ROOMMATE", "TENANT", "LODGER", "BOARDER", "FRIEND", "SON OF", "LADY OF",
    "OF", "THE", "HOUSE", "HOME",
)  # fmt: skip
"""Words that describe a person instead of naming one (BABY GIRL, MALE CHILD, SON OF,
GENTLEMAN OF, SENORA, HIJA): a given-name field made only of them names nobody. A word that
is also a given name on its own (SON, a Vietnamese given name; LADY) counts only in a phrase
(SON OF, LADY OF THE HOUSE); OF, THE, HOUSE and HOME only beside such a word."""

DESCRIPTOR_LAST: tuple[str, ...] = (
    "OCCUPANT", "CURRENT OCCUPANT", "RESIDENT", "CURRENT RESIDENT", "HOUSEHOLD", "OF HOUSEHOLD",
    "OF HOUSE", "OF THE HOUSE", "OF THE HOUSEHOLD", "OF THE HOME", "LADY OF HOUSE",
    "LADY OF THE HOUSE", "HEAD OF HOUSEHOLD",
)  # fmt: skip
"""Surname fields that describe a role in a household instead of naming a family. Real
surnames that are also words (HOUSE, HOME, FRIEND, CHILD, MALE) are not in this list."""

_WORDS = r"(?:[\s.,;:/-]+|$)"
_DESCRIPTOR_FIRST = (
    r"^(?:(?:" + "|".join(w.replace(" ", r"\s+") for w in DESCRIPTOR_FIRST_WORDS) + r")" + _WORDS + r")+$"
)
_ONLY_FILLER = r"^(?:(?:OF|THE|HOUSE|HOME)" + _WORDS + r")+$"
_DESCRIPTOR_LAST = r"^(?:" + "|".join(w.replace(" ", r"\s+") for w in DESCRIPTOR_LAST) + r")[\s.]*$"


def _text(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


def _name_ok(column: str, *, first: bool = False) -> pl.Expr:
    text = _text(column)
    upper = text.str.to_uppercase()
    descriptor = (
        upper.str.contains(_DESCRIPTOR_FIRST) & ~upper.str.contains(_ONLY_FILLER)
        if first
        else upper.str.contains(_DESCRIPTOR_LAST)
    )
    return (text.str.contains(r"\p{L}") & ~upper.str.contains(_PLACEHOLDER_NAME) & ~descriptor).fill_null(
        False
    )


_SSN_AREA_GROUP = (
    r"(?:00[1-9]|0[1-9][0-9]|[1-5][0-9]{2}|6[0-5][0-9]|66[0-57-9]|6[7-9][0-9]|[78][0-9]{2})"
    r"(?:0[1-9]|[1-9][0-9])"
)
"""An SSN's area (001-899 without 666) and group (01-99)."""
_ITIN_AREA_GROUP = r"9[0-9]{2}(?:5[0-9]|6[0-5]|7[0-9]|8[0-8]|9[0-2]|9[4-9])"
"""An ITIN's area (9xx) and group (50-65, 70-88, 90-92, 94-99)."""
POSSIBLE_TIN = rf"^(?:{_SSN_AREA_GROUP}|{_ITIN_AREA_GROUP})[0-9]{{4}}$"
"""Nine digits that can be a TIN, before the serial (never 0000) is checked."""


def tin_acceptable(column: str = "tin") -> pl.Expr:
    """A blank TIN, or a TIN that can exist (see the module docstring)."""
    tin = _text(column)
    digits = tin.str.replace_all(r"[\s-]", "")
    possible = digits.str.contains(POSSIBLE_TIN) & ~digits.str.ends_with("0000")
    return tin.is_null() | possible.fill_null(False)


SMALL_ROWS = 64
"""Up to this many rows ``subject_facts`` decides on Python values (``facts_of_values``): each
polars string step costs some 0.1 ms whatever the rows, about 5 ms for one subject."""


def subject_facts(frame: pl.DataFrame) -> pl.DataFrame:
    """One row of boolean ``FACTS`` per row of ``frame`` (request columns; absent ones are blank).

    A small frame is decided on Python values when it can be (``facts_of_values``).
    """
    if frame.height <= SMALL_ROWS:
        small = facts_of_values(frame)
        if small is not None:
            return small
    return facts_of_frame(frame)


def facts_of_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``subject_facts`` as frame operations: the definition, whatever the frame's size."""
    source = frame.select(
        pl.col(c).cast(pl.Utf8) if c in frame.columns else pl.lit(None, pl.Utf8).alias(c)
        for c in SUBJECT_COLUMNS
    )
    return source.select(
        (_name_ok("first_name", first=True) & _name_ok("last_name")).alias("name_present"),
        _text("street").is_not_null().alias("street_present"),
        tin_acceptable().alias("tin_acceptable"),
        _text("case_reference").is_not_null().alias("case_reference_present"),
    ).insert_column(2, deliverable_streets(source["street"]))


WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Unicode White_Space: what polars' ``strip_chars()`` and the regex crate's ``\\s`` take
(Python's ``str.strip()`` and ``re``'s ``\\s`` also take \\x1c-\\x1f)."""

_V_SPACE_CLASS = re.escape(WHITE_SPACE)


def _python_pattern(pattern: str) -> str:
    """A pattern of this module for Python's ``re``: ``\\s`` as White_Space, ``$`` as the end."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and pattern[i + 1 : i + 2] == "s":
            out.append(_V_SPACE_CLASS if in_class else f"[{_V_SPACE_CLASS}]")
            i += 2
            continue
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
        i += 1
    return "".join(out)


_V_PLACEHOLDER_NAME = re.compile(_python_pattern(_PLACEHOLDER_NAME))
_V_DESCRIPTOR_FIRST = re.compile(_python_pattern(_DESCRIPTOR_FIRST))
_V_ONLY_FILLER = re.compile(_python_pattern(_ONLY_FILLER))
_V_DESCRIPTOR_LAST = re.compile(_python_pattern(_DESCRIPTOR_LAST))
_V_TIN_SEPARATORS = re.compile(f"[{_V_SPACE_CLASS}-]")
_V_POSSIBLE_TIN = re.compile(_python_pattern(POSSIBLE_TIN))


def _text_value(value: str | None) -> str | None:
    text = value.strip(WHITE_SPACE) if value is not None else None
    return text or None


def _name_value(value: str | None, *, first: bool) -> bool:
    text = _text_value(value)
    if text is None:
        return False
    upper = text.upper()
    if first:
        descriptor = bool(_V_DESCRIPTOR_FIRST.search(upper)) and not _V_ONLY_FILLER.search(upper)
    else:
        descriptor = bool(_V_DESCRIPTOR_LAST.search(upper))
    return any(c.isalpha() for c in text) and not _V_PLACEHOLDER_NAME.search(upper) and not descriptor


def _newer_than_python(value: str | None) -> bool:
    r"""Whether ``value`` holds a character this Python's Unicode tables do not know.

    The frame path's ``\p{L}`` (polars, Rust regex) follows a newer Unicode than
    ``str.isalpha`` (Python 3.11: Unicode 14): a letter encoded since (U+13460, an Egyptian
    hieroglyph of Unicode 16) is a letter there and unassigned here. Such a name is decided
    the frame way, so that both paths agree (hypothesis found it, 2026-12-07).
    """
    return value is not None and not value.isascii() and any(unicodedata.category(c) == "Cn" for c in value)


def _tin_value(value: str | None) -> bool:
    tin = _text_value(value)
    if tin is None:
        return True
    digits = _V_TIN_SEPARATORS.sub("", tin)
    return bool(_V_POSSIBLE_TIN.search(digits)) and not digits.endswith("0000")


def fact_values(frame: pl.DataFrame) -> dict[str, list[bool]] | None:
    """``FACTS`` column by column as Python values, or None when a column is not text or a
    street line is not ASCII (``deliverable_value``)."""
    if any(frame.schema[c] != pl.String for c in SUBJECT_COLUMNS if c in frame.columns):
        return None
    blank: Sequence[None] = [None] * frame.height
    columns = {c: frame.get_column(c).to_list() if c in frame.columns else blank for c in SUBJECT_COLUMNS}
    deliverable = [deliverable_value(street) for street in columns["street"]]
    if any(d is None for d in deliverable):
        return None
    if any(_newer_than_python(v) for c in ("first_name", "last_name") for v in columns[c]):
        return None
    return {
        "name_present": [
            _name_value(f, first=True) and _name_value(last, first=False)
            for f, last in zip(columns["first_name"], columns["last_name"], strict=True)
        ],
        "street_present": [_text_value(v) is not None for v in columns["street"]],
        "street_deliverable": [bool(d) for d in deliverable],
        "tin_acceptable": [_tin_value(v) for v in columns["tin"]],
        "case_reference_present": [_text_value(v) is not None for v in columns["case_reference"]],
    }


def facts_of_values(frame: pl.DataFrame) -> pl.DataFrame | None:
    """``subject_facts`` row by row on Python values, or None when a column is not text or a
    street line is not ASCII (``deliverable_value``); held equal to ``facts_of_frame`` by
    tests/legal/test_small_facts.py."""
    facts = fact_values(frame)
    if facts is None:
        return None
    return pl.DataFrame(facts, schema=dict.fromkeys(FACTS, pl.Boolean))


def basis_facts(facts: pl.DataFrame, basis: BasisRule) -> pl.DataFrame:
    """``facts`` as ``basis`` reads them: its ``not_blank`` address check takes any street line."""
    if basis.address_check == "not_blank":
        return facts.with_columns(pl.col("street_present").alias("street_deliverable"))
    return facts


def _reason_rule(requires_case_reference: bool) -> pl.Expr:
    failed = {
        Reason.MISSING_NAME: ~pl.col("name_present"),
        Reason.MISSING_ADDRESS: ~pl.col("street_present"),
        Reason.PLACEHOLDER_ADDRESS: pl.col("street_present") & ~pl.col("street_deliverable"),
        Reason.INVALID_TIN: ~pl.col("tin_acceptable"),
        Reason.MISSING_CASE_REFERENCE: pl.lit(requires_case_reference) & ~pl.col("case_reference_present"),
    }
    rule: pl.Expr = pl.lit(None, pl.Utf8)
    for reason in reversed(SUBJECT_REASONS):
        rule = pl.when(failed[reason]).then(pl.lit(reason.value)).otherwise(rule)
    return rule


def check_subjects(frame: pl.DataFrame, basis: BasisRule) -> pl.Series:
    """For each row of ``frame``, the first failed element in ``SUBJECT_REASONS`` order, or null.

    A small frame is decided on Python values when it can be (``reasons_of_values``).
    """
    facts_of = subject_facts
    if frame.height <= SMALL_ROWS:
        small = reasons_of_values(frame, basis)
        if small is not None:
            return small
        facts_of = facts_of_frame  # the value path declined this frame: do not try it twice
    facts = basis_facts(facts_of(frame), basis)
    return facts.select(_reason_rule(basis.requires_case_reference).alias("subject_reason"))["subject_reason"]


def reasons_of_values(frame: pl.DataFrame, basis: BasisRule) -> pl.Series | None:
    """``check_subjects`` row by row on Python values (None where ``fact_values`` is); held
    equal to the frame rule by tests/legal/test_small_facts.py."""
    facts = fact_values(frame)
    if facts is None:
        return None
    if basis.address_check == "not_blank":
        facts["street_deliverable"] = facts["street_present"]
    reasons: list[str | None] = []
    for name, street, deliverable, tin, case in zip(*(facts[f] for f in FACTS), strict=True):
        failed = {
            Reason.MISSING_NAME: not name,
            Reason.MISSING_ADDRESS: not street,
            Reason.PLACEHOLDER_ADDRESS: street and not deliverable,
            Reason.INVALID_TIN: not tin,
            Reason.MISSING_CASE_REFERENCE: basis.requires_case_reference and not case,
        }
        reasons.append(next((r.value for r in SUBJECT_REASONS if failed[r]), None))
    return pl.Series("subject_reason", reasons, dtype=pl.Utf8)


def subject_refusals(row: Mapping[str, str | None], basis: BasisRule) -> tuple[Reason, ...]:
    """Every failed element of one subject, in ``SUBJECT_REASONS`` order, decided by Cedar."""
    frame = pl.DataFrame(
        {c: [row.get(c)] for c in SUBJECT_COLUMNS}, schema=dict.fromkeys(SUBJECT_COLUMNS, pl.Utf8)
    )
    facts = basis_facts(subject_facts(frame), basis).row(0, named=True)
    return refusals(
        load_policies("subject", SUBJECT_REASONS),
        action="check_subject",
        principal=("Subject", "subject"),
        resource=("Basis", basis.name),
        context={name: bool(facts[name]) for name in FACTS},
        entities=[
            entity("Registry", "bases"),
            entity("Subject", "subject"),
            basis_entity(basis.name, basis, suspended=False),
        ],
    )


def check_subject(row: Mapping[str, str | None], basis: BasisRule) -> Reason | None:
    """One subject's refusal reason under ``basis`` (the first failed element), or None."""
    reasons = subject_refusals(row, basis)
    return reasons[0] if reasons else None
