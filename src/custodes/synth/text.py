"""Row-level randomness and the string perturbations requests are made of."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_BLOCK = 1 << 16


class RowRng:
    """Scalar draws for per-row logic, served from blocks of a numpy PCG64 stream.

    Python-level branching (typos, name forms) needs many scalar draws; buffering keeps them
    cheap while the whole run still depends on the one seeded generator.
    """

    def __init__(self, gen: np.random.Generator) -> None:
        self._gen = gen
        self._buf: list[float] = []
        self._i = 0

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        if self._i >= len(self._buf):
            self._buf = self._gen.random(_BLOCK).tolist()
            self._i = 0
        value = self._buf[self._i]
        self._i += 1
        return value

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return min(int(self.random() * n), n - 1)

    def between(self, lo: int, hi: int) -> int:
        """A uniform integer in [lo, hi] (both included)."""
        return lo + self.below(hi - lo + 1)

    def choice(self, items: Sequence[T]) -> T:
        """One element, uniformly."""
        return items[self.below(len(items))]

    def weighted(self, items: Sequence[T], weights: Sequence[float]) -> T:
        """One element with the given relative weights."""
        target = self.random() * sum(weights)
        acc = 0.0
        for item, weight in zip(items, weights, strict=True):
            acc += weight
            if target < acc:
                return item
        return items[-1]


_KEYBOARD = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip


def _match_case(new: str, old: str) -> str:
    return new.upper() if old.isupper() else new


def typo_word(text: str, rng: RowRng) -> str:
    """One keyboard slip in the letters of ``text``: substitution, transposition, deletion
    or doubling. The result differs from the input and keeps at least two letters."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 3:
        return text + text[-1:] if text else text
    for _ in range(8):
        kind = rng.weighted(("sub", "swap", "del", "dup"), (4, 3, 2, 1))
        pos = letters[rng.between(1, len(letters) - 1)]  # first letters are rarely mistyped
        chars = list(text)
        if kind == "sub":
            near = _KEYBOARD.get(chars[pos].lower(), "e")
            chars[pos] = _match_case(rng.choice(near), chars[pos])
        elif kind == "swap" and pos + 1 < len(chars) and chars[pos + 1].isalpha():
            chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
        elif kind == "del":
            del chars[pos]
        else:
            chars.insert(pos, chars[pos])
        out = "".join(chars)
        if out != text and sum(c.isalpha() for c in out) >= 2:
            return out
    return text[:-1] if len(text) > 3 else text + text[-1]


def typo_digits(digits: str, rng: RowRng, *, keep_length: bool = True) -> str:
    """One slip in a digit string: a changed digit or two adjacent digits swapped."""
    for _ in range(8):
        chars = list(digits)
        pos = rng.below(len(chars))
        if not keep_length and len(chars) > 1 and rng.chance(0.25):
            del chars[pos]
        elif rng.chance(0.5) and pos + 1 < len(chars) and chars[pos] != chars[pos + 1]:
            chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
        else:
            chars[pos] = str((int(chars[pos]) + rng.between(1, 9)) % 10)
        out = "".join(chars)
        if out != digits and out.lstrip("0"):
            return out
    return digits


SSN_RE = re.compile(r"^(?!000|666|9)\d{3}(?!00)\d{2}(?!0000)\d{4}$")
ITIN_RE = re.compile(r"^9\d{2}(5[0-9]|6[0-5]|7[0-9]|8[0-8]|9[0-2]|9[4-9])\d{4}$")


def valid_tin(digits: str) -> bool:
    """A well-formed SSN or ITIN, nine bare digits."""
    return bool(SSN_RE.match(digits) or ITIN_RE.match(digits))


def dashed(tin: str) -> str:
    """123456789 -> 123-45-6789."""
    return f"{tin[:3]}-{tin[3:5]}-{tin[5:]}"


EPOCH = date(1970, 1, 1)


def day_to_date(days: int) -> date:
    """Days since 1970-01-01 as a date."""
    return EPOCH + timedelta(days=days)


def format_dob(d: date, style: str) -> str:
    """A date written as agencies write it: iso, us (MM/DD/YYYY) or compact (YYYYMMDD)."""
    if style == "us":
        return f"{d.month:02d}/{d.day:02d}/{d.year:04d}"
    if style == "compact":
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"
    return d.isoformat()


_DOB_PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), (1, 2, 3)),
    (re.compile(r"^(\d{2})/(\d{2})/(\d{4})$"), (3, 1, 2)),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), (1, 2, 3)),
)


def read_dob(text: str | None) -> tuple[date | None, int | None]:
    """(the date, the year) a request dob carries; a malformed value may still give a year.

    The generator's own reading, used to decide whether a request is at the information floor.
    """
    if not text:
        return None, None
    for pattern, (yi, mi, di) in _DOB_PATTERNS:
        m = pattern.match(text.strip())
        if m:
            year = int(m.group(yi))
            try:
                return date(year, int(m.group(mi)), int(m.group(di))), year
            except ValueError:
                return None, year if 1880 <= year <= 2025 else None
    years = [int(y) for y in re.findall(r"(?<!\d)(\d{4})(?!\d)", text)]
    plausible = [y for y in years if 1880 <= y <= 2025]
    return None, (plausible[0] if plausible else None)
