"""Is a street line a deliverable address? The test behind ``placeholder_address``.

A word list alone cannot do this: in 2025 "Failed to Provide", "Unknown Address" and a ZIP
code standing in for an address all passed a not-blank test, and the next placeholder will
be spelt differently. So the test is structural, with a short list on top:

1. **Structure.** The line must hold a house number and a street name, or a PO Box with its
   number. usaddress (a CRF trained on US addresses) labels the tokens; a house number must
   contain a non-zero digit ("0" and "00000" are not numbers), a box must be labelled a box
   and have a non-zero number. A ZIP code alone, words alone ("Homeless", "See attached"),
   "?" and "N/A" fail here. A foreign form with a number and a name ("1 Rue de la Paix")
   passes: the check is for deliverable *form*; no street register is consulted.
2. **Placeholder words** (``PLACEHOLDER_PATTERN``) refuse a line that would pass the
   structure test but says it is not an address ("12345 Don't Care", "123 Unknown St",
   "1 General Delivery").
3. **Known fake addresses** (``KNOWN_FAKE_STREETS``), compared whole: the textbook and
   fiction addresses people type when they have none, including "1 Main St" and
   "123 Main St". A real resident of such an address is refused too; precision comes first.

**Speed.** usaddress tags about 8,000 lines a second on one core, too slow for 1.28M
subjects. Lines are normalised (upper case, dots and apostrophes dropped, other punctuation
as spaces) and judged once per distinct line. The canonical form,
``number [dir] name [name] suffix [dir] [unit]`` with a plain number and plain words (and
``PO BOX n``) is
accepted by a regular expression (``FAST_PATH_PATTERN``) that a property test holds to
accepting nothing usaddress would refuse; only the remaining lines go to usaddress.
"""

from __future__ import annotations

import re
from functools import lru_cache

import polars as pl
import usaddress
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

PLACEHOLDER_WORDS: tuple[str, ...] = (
    "UNKNOWN", "UNKOWN", "UNKN", "UNK", "NONE", "NULL", "NIL", "N/A", "FAKE", "DUMMY", "TEST",
    "PLACEHOLDER", "REDACTED", "WITHHELD", "REFUSED", "DECLINED", "HOMELESS", "TRANSIENT",
    "TBD", "TBA", "NOWHERE", "ANYWHERE", "SOMEWHERE", "ADDRESS", "ATTACHED", "ATTACHMENT",
    "INVALID", "MISSING", "XX+",
)  # fmt: skip
"""Words that never occur in a real street line but do in placeholders."""

PLACEHOLDER_PHRASES: tuple[str, ...] = (
    "GENERAL DELIVERY", "DONT CARE", "DO NOT CARE", "NOT PROVIDED", "FAILED TO PROVIDE",
    "NOT GIVEN", "NOT AVAILABLE", "NOT APPLICABLE", "NO FIXED ABODE", "SEE ABOVE", "SAME AS ABOVE",
)  # fmt: skip
"""Phrases (on normalised text: "Don't" is "DONT") that mark a placeholder."""

PLACEHOLDER_PATTERN = r"\b(?:" + "|".join((*PLACEHOLDER_WORDS, *PLACEHOLDER_PHRASES)) + r")\b"

KNOWN_FAKE_STREETS: frozenset[str] = frozenset(
    {
        "1 MAIN ST", "1 MAIN STREET", "123 MAIN ST", "123 MAIN STREET", "123 ANY ST",
        "123 ANY STREET", "123 SESAME ST", "123 SESAME STREET", "742 EVERGREEN TER",
        "742 EVERGREEN TERRACE", "221B BAKER ST", "221B BAKER STREET", "1234 STREET ST",
        "123 STREET ST", "123 ABC ST", "123 ABC STREET",
    }
)  # fmt: skip
"""Whole normalised street lines known to be typed in place of an address."""

_DIRECTIONALS = "N|S|E|W|NE|NW|SE|SW"
_FAST_SUFFIXES = (
    "ST|STREET|AVE|AVENUE|RD|ROAD|DR|DRIVE|LN|LANE|CT|COURT|BLVD|BOULEVARD|WAY|PL|PLACE|TER|"
    "TERRACE|CIR|CIRCLE|PKWY|PARKWAY|TRL|TRAIL|LOOP"
)
FAST_PATH_PATTERN = (
    rf"^[1-9][0-9]{{0,5}}(?: (?P<dir>{_DIRECTIONALS}))?"
    rf" (?P<name>[A-Z]{{2,}}(?: [A-Z]{{2,}})?|[1-9][0-9]{{0,2}}(?:ST|ND|RD|TH)) (?:{_FAST_SUFFIXES})"
    rf"(?: (?:{_DIRECTIONALS}))?(?: (?:APT|UNIT|STE|#) ?(?:[0-9]{{1,5}}[A-Z]?|[A-Z]))?$"
)
"""The canonical street line: a plain house number, an optional directional, a street name of
one or two plain words or an ordinal, a common street type, then an optional directional and
unit. ``fast_path_accepts`` adds conditions on the name's words."""

PO_BOX_PATTERN = r"^PO BOX [1-9][0-9]{0,7}$"

RESERVED_WORDS: frozenset[str] = frozenset(
    {
        *_FAST_SUFFIXES.split("|"), *DIRECTIONAL_REPLACEMENTS, *DIRECTIONAL_REPLACEMENTS.values(),
        *OCCUPANCY_TYPE_ABBREVIATIONS, *OCCUPANCY_TYPE_ABBREVIATIONS.values(), "BOX", "PO", "POB",
        "RR", "HC", "PSC", "CMR", "COUNTY", "STATE", "US", "HIGHWAY", "ROUTE", "RT", "CAMINO",
        "CALLE", "RUE", "VIA", "SAN", "SANTA", "SANTO", "THE", "OF", "DE", "LA", "LE", "EL", "LOS",
        "LAS", "DEL", "DU", "DES", "AND", "AT", "BY", "IN", "ON", "TO", "DELIVERY", "GENERAL",
        "CENTER", "PLAZA", "TOWER", "TOWERS", "BUILDING", "HALL", "COMPLEX", "CAMPUS", "OFFICE",
        "FM", "SAINT", "MOUNT", "FORT", "JR", "SR",
    }
)  # fmt: skip
"""Words that make usaddress read a line differently (the fast path's street types,
directionals, units, boxes, routes, building words, Spanish and French particles); a street
name holding one leaves the fast path."""

STREET_TYPE_WORDS: frozenset[str] = frozenset(
    {*STREET_TYPE_ABBREVIATIONS, *STREET_TYPE_ABBREVIATIONS.values()}
)
"""USPS street types (PARK, HILL, BEACH, ...). They may be words of a street name, but not
after a directional, where usaddress may read them as the street's type."""

_NAME_LABELS = frozenset({"StreetName", "BuildingName", "LandmarkName"})
_CONTEXT = ", SPRINGFIELD, IL 62701"
"""A neutral city, state and ZIP appended before parsing (see ``usaddress_accepts``)."""
_REAL_NUMBER = re.compile(r"[1-9]")
_LETTER = re.compile(r"[^\W\d_]")


def normalise_street(street: pl.Expr) -> pl.Expr:
    """The street line as the checks see it: upper case, no dots or apostrophes, single spaces."""
    return (
        street.str.to_uppercase()
        .str.replace_all(r"['’.]", "")
        .str.replace_all(r"[^\p{L}\p{N}#/ -]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def is_placeholder(normalised: pl.Expr) -> pl.Expr:
    """A placeholder word or phrase, or a known fake address."""
    return normalised.str.contains(PLACEHOLDER_PATTERN) | normalised.is_in(sorted(KNOWN_FAKE_STREETS))


def fast_path_accepts(normalised: pl.Expr) -> pl.Expr:
    """The canonical form, which usaddress would also accept (see the property test)."""
    parts = normalised.str.extract_groups(FAST_PATH_PATTERN)
    words = parts.struct.field("name").str.split(" ")
    reserved = words.list.eval(pl.element().is_in(sorted(RESERVED_WORDS))).list.any()
    typed = words.list.eval(pl.element().is_in(sorted(STREET_TYPE_WORDS))).list.any()
    plain = ~reserved & ~(typed & parts.struct.field("dir").is_not_null())
    return (normalised.str.contains(PO_BOX_PATTERN) | plain).fill_null(False)


@lru_cache(maxsize=1 << 16)
def usaddress_accepts(normalised: str) -> bool:
    """Whether usaddress finds a house number and a street name, or a PO Box and its number."""
    if not (_REAL_NUMBER.search(normalised) and _LETTER.search(normalised)):
        return False
    # parsed alone, a street line lacks the context usaddress was trained on and it labels
    # "634 RIDGE" or "180 9TH" as unit numbers; a fixed city line after it restores the
    # context, and only the street line's own tokens are judged
    own = len(normalised.split())
    parsed = [(token.rstrip(","), label) for token, label in usaddress.parse(normalised + _CONTEXT)[:own]]
    numbers = [token for token, label in parsed if label == "AddressNumber"]
    names = [token for token, label in parsed if label in _NAME_LABELS]
    box_type = "".join(token for token, label in parsed if label == "USPSBoxType")
    box_ids = [token for token, label in parsed if label == "USPSBoxID"]
    house = any(_REAL_NUMBER.search(n) for n in numbers) and any(re.search(r"\w", n) for n in names)
    box = "BOX" in box_type and any(_REAL_NUMBER.search(b) for b in box_ids)
    return house or box


def deliverable_streets(streets: pl.Series) -> pl.Series:
    """For each street line, whether it is a deliverable address (null or blank: False).

    Each distinct normalised line is judged once.
    """
    normalised = pl.DataFrame({"s": streets}).select(normalise_street(pl.col("s")).alias("s"))["s"]
    distinct = (
        normalised.unique()
        .drop_nulls()
        .to_frame()
        .filter(pl.col("s") != "")
        .with_columns(
            is_placeholder(pl.col("s")).alias("placeholder"),
            fast_path_accepts(pl.col("s")).alias("fast"),
        )
    )
    rest = distinct.filter(~pl.col("placeholder") & ~pl.col("fast"))["s"]
    parsed = pl.Series("parsed", [usaddress_accepts(s) for s in rest.to_list()], dtype=pl.Boolean)
    verdict = distinct.join(pl.DataFrame({"s": rest, "parsed": parsed}), on="s", how="left").select(
        "s", (~pl.col("placeholder") & (pl.col("fast") | pl.col("parsed").fill_null(False))).alias("ok")
    )
    return normalised.replace_strict(
        verdict["s"], verdict["ok"], default=False, return_dtype=pl.Boolean
    ).rename("street_deliverable")
