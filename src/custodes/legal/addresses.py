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

**Units** do not bear on the structure: a trailing unit ("APT 5", "# 4A", "SUITE 200") is
dropped before either path judges the line (the *core*), because it misleads usaddress.

**Speed.** usaddress tags a few thousand lines a second on one core, too slow for 1.28M
subjects. Lines are normalised (upper case, dots and apostrophes dropped, other punctuation
as spaces) and judged once per distinct line. The core's canonical form (directionals and
common street types in USPS short form: "NORTH" is "N", "STR" and "STREET" are "ST") is
tried against ``FAST_PATH_PATTERN``: a plain house number, an optional directional, a street
name of one or two plain words or an ordinal, and a common street type; or ``PO BOX n``. A
property test and a large generated corpus hold the fast path to accepting nothing
usaddress would refuse; only the remaining lines are parsed, in parallel when there are
many.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

from custodes.legal import structure
from custodes.legal.structure import usaddress_accepts

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
FAST_STREET_TYPES: tuple[str, ...] = (
    "ST", "AVE", "RD", "DR", "LN", "CT", "BLVD", "PL", "TER", "CIR", "PKWY", "TRL", "WAY", "LOOP",
    "HWY", "SQ", "PIKE", "RUN", "XING", "PATH", "ALY", "ROW", "CV", "PT", "EXPY", "FWY", "TPKE",
)  # fmt: skip
"""The common USPS street types the fast path knows (rarer ones, such as PARK or MALL, make
usaddress read some names as a city and are left to it)."""

FAST_PATH_PATTERN = (
    rf"^[1-9][0-9]{{0,5}}(?: (?P<dir>{_DIRECTIONALS}))?"
    rf" (?P<name>[A-Z]{{2,}}(?: [A-Z]{{2,}}){{0,2}}|[1-9][0-9]{{0,2}}(?:ST|ND|RD|TH))"
    rf" (?P<type>{'|'.join(FAST_STREET_TYPES)})(?: (?:{_DIRECTIONALS}))?$"
)
"""The canonical core: a plain house number, an optional directional, a street name of one to
three plain words or an ordinal, a common street type, an optional directional.
``fast_path_accepts`` adds conditions on the name's words."""

_ORDINAL_WORDS = {
    "FIRST": "1ST", "SECOND": "2ND", "THIRD": "3RD", "FOURTH": "4TH", "FIFTH": "5TH",
    "SIXTH": "6TH", "SEVENTH": "7TH", "EIGHTH": "8TH", "NINTH": "9TH", "TENTH": "10TH",
}  # fmt: skip

CANONICAL_TOKENS: dict[str, str] = {
    **DIRECTIONAL_REPLACEMENTS,
    **_ORDINAL_WORDS,
    **{k: v for k, v in STREET_TYPE_ABBREVIATIONS.items() if v in FAST_STREET_TYPES},
}
"""Spellings of directionals, ordinal words and the fast path's street types -> USPS form
("NORTH" -> "N", "STR" and "STREET" -> "ST", "FIFTH" -> "5TH")."""

UNIT_DESIGNATORS: tuple[str, ...] = (
    "APARTMENT", "APT", "UNIT", "SUITE", "STE", "ROOM", "RM", "FLOOR", "FL", "BLDG", "LOT",
    "TRAILER", "TRLR", "SPC",
)  # fmt: skip
"""Designators of a trailing unit, dropped from the core (with "#")."""

_TRAILING_UNIT = rf"(?: (?:{'|'.join(UNIT_DESIGNATORS)}) ?#? ?| ?# ?)[A-Z0-9-]{{1,6}}$"

PO_BOX_PATTERN = r"^PO BOX [1-9][0-9]{0,7}$"

RESERVED_WORDS: frozenset[str] = frozenset(
    {
        *DIRECTIONAL_REPLACEMENTS, *DIRECTIONAL_REPLACEMENTS.values(), *OCCUPANCY_TYPE_ABBREVIATIONS,
        *OCCUPANCY_TYPE_ABBREVIATIONS.values(), "BOX", "PO", "POB", "RR", "HC", "PSC", "CMR", "ST",
        "SAN", "SANTA", "SANTO", "EL", "LA", "LOS", "LAS", "DEL", "DE", "CAMINO", "CALLE", "VIA",
        "RUE", "OF", "THE", "AND", "TO", "AT", "BY", "ON", "IN", "NEW", "FORT", "FT", "MOUNT",
        "MT", "SAINT", "PORT",
    }
)  # fmt: skip
"""Words that make usaddress read a street name differently: directionals, units, boxes, "ST"
(street or saint), Spanish and French particles, small words and the first words of place
names ("NEW", "FORT", "SAINT"). A name holding one leaves the fast path."""

STREET_TYPE_WORDS: frozenset[str] = frozenset(
    {*STREET_TYPE_ABBREVIATIONS, *STREET_TYPE_ABBREVIATIONS.values()}
)
"""USPS street types in every spelling (PARK, HILL, LK, CURV, ...). After a directional, a
street name may hold at most one; with more, usaddress may read the name as a type and a place."""

PARALLEL_FROM = 20_000
"""Distinct cores to parse from which worker processes pay for their start-up."""
MAX_WORKERS = 8


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


def street_core(normalised: pl.Expr) -> pl.Expr:
    """The normalised line without a trailing unit: what the structure test judges."""
    return normalised.str.replace(_TRAILING_UNIT, "")


def canonical_core(core: pl.Expr) -> pl.Expr:
    """The core with directionals and the fast path's street types in USPS short form."""
    return core.str.split(" ").list.eval(pl.element().replace(CANONICAL_TOKENS)).list.join(" ")


def _any_word(words: frozenset[str]) -> str:
    return r"\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b"


_RESERVED_WORD = _any_word(RESERVED_WORDS)
_STREET_TYPE_WORD = _any_word(STREET_TYPE_WORDS)


def canonical_form(core: pl.Expr) -> pl.Expr:
    """Whether a canonical core is in the fast path's form (see ``FAST_PATH_PATTERN``)."""
    parts = core.str.extract_groups(FAST_PATH_PATTERN)
    name = parts.struct.field("name")
    most_typed = pl.when(parts.struct.field("dir").is_null()).then(3).otherwise(1)
    # a name that repeats the street type ("1 CT CT") is left to usaddress, which refuses it
    plain = (
        ~name.str.contains(_RESERVED_WORD)
        & (name.str.count_matches(_STREET_TYPE_WORD) <= most_typed)
        & (name != parts.struct.field("type"))
    )
    return (core.str.contains(PO_BOX_PATTERN) | plain).fill_null(False)


def fast_path_accepts(normalised: pl.Expr) -> pl.Expr:
    """The canonical form, whose core usaddress would also accept (see the property test)."""
    return canonical_form(canonical_core(street_core(normalised)))


def _run_worker(cores: list[str]) -> list[bool]:
    result = subprocess.run(
        [sys.executable, str(Path(structure.__file__))],
        input="".join(f"{core}\n" for core in cores),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if result.returncode != 0 or len(result.stdout) != len(cores):
        raise RuntimeError(f"the address parser worker failed: {result.stderr.strip()[-500:]}")
    return [verdict == "1" for verdict in result.stdout]


def parse_all(cores: list[str]) -> list[bool]:
    """``usaddress_accepts`` of each core; split over worker processes when there are many."""
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if len(cores) < PARALLEL_FROM or workers < 2:
        return [usaddress_accepts(core) for core in cores]
    size = -(-len(cores) // workers)
    chunks = [cores[i : i + size] for i in range(0, len(cores), size)]
    with ThreadPoolExecutor(len(chunks)) as pool:
        return [ok for verdicts in pool.map(_run_worker, chunks) for ok in verdicts]


def deliverable_streets(streets: pl.Series) -> pl.Series:
    """For each street line, whether it is a deliverable address (null or blank: False).

    Each distinct line is judged once; only cores outside the fast path are parsed.
    """
    normalised = streets.to_frame("s").select(normalise_street(pl.col("s")))["s"]
    # a core without a non-zero digit and a letter cannot hold a house number and a name
    parseable = pl.col("core").str.contains("[1-9]") & pl.col("core").str.contains(r"\p{L}")
    distinct = (
        normalised.to_frame()
        .lazy()
        .unique()
        .filter(pl.col("s") != "")
        .with_columns(canonical_core(street_core(pl.col("s"))).alias("core"))
        .with_columns(
            is_placeholder(pl.col("s")).alias("placeholder"), canonical_form(pl.col("core")).alias("fast")
        )
        .with_columns((~pl.col("placeholder") & ~pl.col("fast") & parseable).alias("parse"))
        .collect()
    )
    rest = distinct.filter("parse")["core"].unique()
    parsed = pl.col("core").replace_strict(
        rest, parse_all(rest.to_list()), default=False, return_dtype=pl.Boolean
    )
    verdict = distinct.select("s", (~pl.col("placeholder") & (pl.col("fast") | parsed)).alias("ok"))
    return normalised.replace_strict(
        verdict["s"], verdict["ok"], default=False, return_dtype=pl.Boolean
    ).rename("street_deliverable")


# ``deliverable_streets`` on one plain (ASCII) street line, for small frames (an online
# group); held equal to it by tests/legal/test_small_facts.py. On ASCII text polars' classes
# (\p{L}, \p{N}, \s, \b) and Python's agree; other lines go through ``deliverable_streets``.
_V_DROPPED = re.compile(r"['.]")
_V_OTHER = re.compile(r"[^A-Z0-9#/ -]")
_V_SPACES = re.compile(r" +")
_V_TRAILING_UNIT = re.compile(_TRAILING_UNIT)
_V_PLACEHOLDER = re.compile(PLACEHOLDER_PATTERN)
_V_PO_BOX = re.compile(PO_BOX_PATTERN)
_V_FAST = re.compile(FAST_PATH_PATTERN)
_V_RESERVED = re.compile(_RESERVED_WORD)
_V_STREET_TYPE = re.compile(_STREET_TYPE_WORD)
_V_NONZERO = re.compile("[1-9]")
_V_LETTER = re.compile("[A-Za-z]")


def deliverable_value(street: str | None) -> bool | None:
    """``deliverable_streets`` of one street line, or None when the line is not ASCII."""
    if street is None:
        return False
    if not street.isascii():
        return None
    line = _V_SPACES.sub(" ", _V_OTHER.sub(" ", _V_DROPPED.sub("", street.upper()))).strip(" ")
    if not line:
        return False
    if _V_PLACEHOLDER.search(line) or line in KNOWN_FAKE_STREETS:
        return False
    core = " ".join(CANONICAL_TOKENS.get(t, t) for t in _V_TRAILING_UNIT.sub("", line, count=1).split(" "))
    if _V_PO_BOX.search(core):
        return True
    fast = _V_FAST.search(core)
    if fast is not None:
        name = fast.group("name")
        most_typed = 3 if fast.group("dir") is None else 1
        if (
            not _V_RESERVED.search(name)
            and len(_V_STREET_TYPE.findall(name)) <= most_typed
            and name != fast.group("type")
        ):
            return True
    return bool(_V_NONZERO.search(core) and _V_LETTER.search(core)) and usaddress_accepts(core)
