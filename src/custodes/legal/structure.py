"""The structure test of a street line, by usaddress: a house number and a street name, or a box.

This module imports nothing from custodes, so that ``custodes.legal.addresses.parse_all`` can
run it as a script in worker processes (cores in on stdin, one ``1``/``0`` verdict character
per core out) without paying for the package's start-up. A fresh interpreter, not a fork: a
forked child of a process running polars threads can deadlock, and the multiprocessing start
methods that avoid fork re-run the caller's main module.
"""

from __future__ import annotations

import io
import re
import sys
from functools import lru_cache
from typing import TextIO

import usaddress

_NAME_LABELS = frozenset(
    {
        "StreetName", "StreetNamePreType", "StreetNamePostType", "StreetNamePreModifier",
        "StreetNamePostModifier", "BuildingName", "LandmarkName",
    }
)  # fmt: skip
"""usaddress labels that make a word part of a street name (it labels "1175 RIDGE" as a
number and a street type, "80 SPRING" as a landmark)."""
_HOUSE = re.compile(r"^[NSEW]?[0-9]+[A-Z]?(?:-[0-9A-Z]+)?(?:[NSEW][0-9]+)?$")
"""A house number as the line's first token, however usaddress labels it."""
_ORDINAL = re.compile(r"^[0-9]+(?:ST|ND|RD|TH)$")
"""A numbered street ("9TH"), a street name however usaddress labels it."""
STATE_CODES: frozenset[str] = frozenset(
    {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
        "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
        "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
        "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "AA", "AE", "AP",
    }
)  # fmt: skip
"""USPS state and territory codes: "12345 IL" is a ZIP code and a state, not a street."""
_CONTEXT = ", SPRINGFIELD, IL 62701"
"""A neutral city, state and ZIP appended before parsing (see ``usaddress_accepts``)."""
_REAL_NUMBER = re.compile(r"[1-9]")
_LETTER = re.compile(r"[^\W\d_]")


@lru_cache(maxsize=1 << 16)
def usaddress_accepts(core: str) -> bool:
    """Whether usaddress finds, in a canonical core, a house number and a street name, or a PO Box
    and its number."""
    if not (_REAL_NUMBER.search(core) and _LETTER.search(core)):
        return False
    # parsed alone, a street line lacks the context usaddress was trained on and it labels
    # "634 RIDGE" or "180 9TH" as unit numbers; a fixed city line after it restores the
    # context, and only the street line's own tokens are judged
    own = len(core.split())
    parsed = [(token.rstrip(","), label) for token, label in usaddress.parse(core + _CONTEXT)[:own]]
    numbers = [token for token, label in parsed if label == "AddressNumber" and not _ORDINAL.match(token)]
    if _HOUSE.match(parsed[0][0]):
        numbers.append(parsed[0][0])
        parsed = parsed[1:]
    names = [
        token
        for token, label in parsed
        if (label in _NAME_LABELS and _LETTER.search(token) and token not in STATE_CODES)
        or _ORDINAL.match(token)
    ]
    box_type = "".join(token for token, label in parsed if label == "USPSBoxType")
    box_ids = [token for token, label in parsed if label == "USPSBoxID"]
    house = any(_REAL_NUMBER.search(n) for n in numbers) and bool(names)
    box = "BOX" in box_type and any(_REAL_NUMBER.search(b) for b in box_ids)
    return house or box


def main(source: TextIO = sys.stdin, sink: TextIO = sys.stdout) -> None:
    """Judge every core read from ``source``; write one verdict character per core to ``sink``."""
    sink.write("".join("1" if usaddress_accepts(line.rstrip("\n")) else "0" for line in source))
    sink.flush()


if __name__ == "__main__":  # pragma: no cover - run by parse_all in worker processes
    main(
        io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8"),
        io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8"),
    )
