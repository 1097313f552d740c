"""Addresses: a table of unique places, rendered in many equivalent spellings.

An address is identified by its id in the table; every rendering of one id (master rows of
different years, request rows) is the same place written differently, which is what the
matcher has to see through. ``canonical_street`` is the generator's own equivalence, used by
its tests; the matcher must not rely on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from custodes.synth.pools import (
    DIRECTIONALS,
    SUFFIX_ALTERNATES,
    SUFFIXES,
    UNIT_TYPES,
    geography,
    strip_accents,
)
from custodes.synth.text import RowRng

I32 = npt.NDArray[np.int32]


@dataclass(frozen=True)
class Addresses:
    """Address components by id; -1 means the part is absent."""

    city: I32
    house: I32
    half: npt.NDArray[np.bool_]
    predir: I32
    street: I32
    suffix: I32
    postdir: I32
    unit_kind: I32
    unit_num: I32
    unit_letter: I32
    pobox: I32
    zip5: I32
    zip4: I32

    def __len__(self) -> int:
        return len(self.city)


def _log_uniform(rng: np.random.Generator, n: int, hi: float) -> I32:
    out: I32 = np.exp(rng.random(n) * np.log(hi)).astype(np.int32)
    return out


def _house_numbers(rng: np.random.Generator, n: int) -> I32:
    """Mostly three to five digits; a few low numbers."""
    low = rng.integers(1, 100, n)
    high = np.exp(np.log(100) + rng.random(n) * (np.log(24000) - np.log(100)))
    out: I32 = np.where(rng.random(n) < 0.1, low, high).astype(np.int32)
    return out


def draw_cities(rng: np.random.Generator, n: int) -> I32:
    """Cities weighted by population: a few big cities hold much of it."""
    cum = geography().city_cum
    out: I32 = np.searchsorted(cum, rng.random(n), side="right").clip(0, len(cum) - 1).astype(np.int32)
    return out


def make_addresses(rng: np.random.Generator, city: I32, pobox: npt.NDArray[np.bool_]) -> Addresses:
    """One new, distinct address per element of ``city`` (PO Boxes where ``pobox``)."""
    geo = geography()
    n = len(city)
    big = geo.big[city]
    house = _house_numbers(rng, n)
    half = rng.random(n) < 0.003
    predir = np.where(rng.random(n) < np.where(big, 0.3, 0.12), rng.integers(0, 8, n), -1)
    # the four cardinal directions dominate
    predir = np.where((predir >= 4) & (rng.random(n) < 0.7), predir - 4, predir)
    street = np.searchsorted(geo.street_cum, rng.random(n), side="right")
    suffix = np.searchsorted(geo.suffix_cum, rng.random(n), side="right")
    postdir = np.where(rng.random(n) < 0.03, rng.integers(0, 4, n), -1)
    has_unit = rng.random(n) < np.where(big, 0.35, 0.18)
    unit_kind = np.where(has_unit, np.searchsorted([0.8, 0.95], rng.random(n), side="right"), -1)
    unit_shape = rng.random(n)
    unit_num = np.where(
        unit_shape < 0.7,
        rng.integers(1, 41, n),
        np.where(unit_shape < 0.9, rng.integers(1, 25, n) * 100 + rng.integers(1, 20, n), 0),
    )
    unit_num = np.where(unit_shape >= 0.95, rng.integers(1, 6, n), unit_num)
    unit_letter = np.where(unit_shape >= 0.9, rng.integers(0, 6, n), -1)
    box = np.where(pobox, _log_uniform(rng, n, 30000) + 1, -1)
    zip5 = geo.zip_start[city] + (rng.random(n) * geo.zip_count[city]).astype(np.int32)
    zip4 = rng.integers(1, 10000, n)

    cols: dict[str, I32] = {
        "city": city.astype(np.int32), "house": house.astype(np.int32),
        "half": half.astype(np.int32), "predir": predir.astype(np.int32), "street": street.astype(np.int32),
        "suffix": suffix.astype(np.int32), "postdir": postdir.astype(np.int32),
        "unit_num": np.where(has_unit, unit_num, -1).astype(np.int32),
        "unit_letter": np.where(has_unit, unit_letter, -1).astype(np.int32),
        "pobox": box.astype(np.int32),
    }  # fmt: skip
    # a PO Box is identified by its number and city only
    for f in ("predir", "street", "suffix", "postdir", "unit_num", "unit_letter"):
        cols[f] = np.where(pobox, -1, cols[f]).astype(np.int32)
    cols["house"] = np.where(pobox, 0, cols["house"]).astype(np.int32)
    cols["half"] = np.where(pobox, 0, cols["half"]).astype(np.int32)
    for _ in range(50):
        key = pl.DataFrame(cols)
        dup = key.select(~pl.struct(pl.all()).is_first_distinct()).to_series().to_numpy()
        if not dup.any():
            break
        k = int(dup.sum())
        cols["house"][dup & ~pobox] = _house_numbers(rng, k)[: int((dup & ~pobox).sum())]
        cols["pobox"][dup & pobox] = _log_uniform(rng, k, 30000)[: int((dup & pobox).sum())] + 1
    return Addresses(
        city=cols["city"],
        house=cols["house"],
        half=cols["half"] > 0,
        predir=cols["predir"],
        street=cols["street"],
        suffix=cols["suffix"],
        postdir=cols["postdir"],
        unit_kind=np.where(pobox | (cols["unit_num"] < 0), -1, unit_kind).astype(np.int32),
        unit_num=cols["unit_num"],
        unit_letter=cols["unit_letter"],
        pobox=cols["pobox"],
        zip5=zip5.astype(np.int32),
        zip4=zip4.astype(np.int32),
    )


def concat_addresses(parts: list[Addresses]) -> Addresses:
    """The tables one after the other (ids of later parts are shifted)."""
    return Addresses(
        **{f: np.concatenate([getattr(p, f) for p in parts]) for f in Addresses.__dataclass_fields__}
    )


_LETTERS = "ABCDEF"
_DESIGNATORS: list[str] = []
_DESIG_OFFSET: list[int] = []
for _kind in UNIT_TYPES:
    _DESIG_OFFSET.append(len(_DESIGNATORS))
    _DESIGNATORS.extend("#" if d == "#" else f"{d} " for d in _kind)
_DESIG_LEN = np.asarray([len(k) for k in UNIT_TYPES], dtype=np.int32)


def _gather(values: list[str | None], idx: npt.NDArray[np.integer]) -> pl.Series:
    """values[idx] as a string Series, null where idx < 0."""
    table = pl.Series([*values, None], dtype=pl.String)
    safe = np.where(idx < 0, len(values), idx).astype(np.int64)
    return table.gather(safe)


def render_master_streets(a: Addresses, idx: npt.NDArray[np.int64], rng: np.random.Generator) -> pl.Series:
    """The street line of each address id in ``idx``, spelled as a filer might that year."""
    geo = geography()
    n = len(idx)
    full_suffix = rng.random(n) < 0.45
    full_dir = rng.random(n) < 0.3
    alt_street = rng.random(n) < 0.3
    variant = rng.integers(0, 12, n)
    dotted_box = rng.random(n) < 0.2
    kind = a.unit_kind[idx]
    desig = np.where(kind < 0, -1, np.asarray(_DESIG_OFFSET)[kind] + variant % _DESIG_LEN[kind])
    unit_num = a.unit_num[idx]
    unit_letter = a.unit_letter[idx]
    street_id = a.street[idx]
    suffix_id = a.suffix[idx]
    predir = a.predir[idx]
    postdir = a.postdir[idx]
    frame = pl.DataFrame(
        {
            "house": a.house[idx],
            "half": a.half[idx],
            "box": a.pobox[idx],
            "dotted": dotted_box,
            "unum": unit_num,
            "pre": pl.select(
                pl.when(pl.lit(pl.Series(full_dir)))
                .then(pl.lit(_gather([d[0] for d in DIRECTIONALS], predir)))
                .otherwise(pl.lit(_gather([d[1] for d in DIRECTIONALS], predir)))
            ).to_series(),
            "post": _gather([d[1] for d in DIRECTIONALS], postdir),
            "street": pl.select(
                pl.when(pl.lit(pl.Series(alt_street)))
                .then(pl.lit(_gather(list(geo.street_alt), street_id)))
                .otherwise(pl.lit(_gather(list(geo.street), street_id)))
            ).to_series(),
            "suffix": pl.select(
                pl.when(pl.lit(pl.Series(full_suffix)))
                .then(pl.lit(_gather([s[0] for s in SUFFIXES], suffix_id)))
                .otherwise(pl.lit(_gather([s[1] for s in SUFFIXES], suffix_id)))
            ).to_series(),
            "desig": _gather(list(_DESIGNATORS), desig),
            "uletter": _gather(list(_LETTERS), unit_letter),
        }
    )
    unit_value = pl.concat_str(
        [
            pl.when(pl.col("unum") > 0).then(pl.col("unum").cast(pl.String)),
            pl.col("uletter"),
        ],
        ignore_nulls=True,
    )
    house = (
        pl.when(pl.col("half"))
        .then(pl.col("house").cast(pl.String) + " 1/2")
        .otherwise(pl.col("house").cast(pl.String))
    )
    line = pl.concat_str(
        [
            house,
            pl.col("pre"),
            pl.col("street"),
            pl.col("suffix"),
            pl.col("post"),
            pl.when(pl.col("desig").is_not_null()).then(pl.col("desig") + unit_value),
        ],
        separator=" ",
        ignore_nulls=True,
    )
    box = pl.when(pl.col("dotted")).then(pl.lit("P.O. Box ")).otherwise(pl.lit("PO Box "))
    return frame.select(
        pl.when(pl.col("box") > 0).then(box + pl.col("box").cast(pl.String)).otherwise(line).alias("street")
    ).to_series()


def render_master_zips(a: Addresses, idx: npt.NDArray[np.int64], rng: np.random.Generator) -> pl.Series:
    """ZIP codes in the three contract spellings: 12345, 12345-6789, 123456789."""
    style = np.searchsorted([0.6, 0.85], rng.random(len(idx)), side="right")
    frame = pl.DataFrame({"z5": a.zip5[idx], "z4": a.zip4[idx], "s": style})
    z5 = pl.col("z5").cast(pl.String).str.zfill(5)
    z4 = pl.col("z4").cast(pl.String).str.zfill(4)
    return frame.select(
        pl.when(pl.col("s") == 0)
        .then(z5)
        .when(pl.col("s") == 1)
        .then(z5 + "-" + z4)
        .otherwise(z5 + z4)
        .alias("zip")
    ).to_series()


def _case(text: str, rng: RowRng, upper: float = 0.4, lower: float = 0.05) -> str:
    u = rng.random()
    if u < upper:
        return text.upper()
    if u < upper + lower:
        return text.lower()
    return text


def request_street(a: Addresses, i: int, rng: RowRng) -> str:
    """Address ``i``'s street line as a requesting agency might type it."""
    if a.pobox[i] > 0:
        form = rng.weighted(
            ("PO Box", "P.O. Box", "P O Box", "Post Office Box", "PO BOX", "P.O. BOX"),
            (4, 3, 1, 1, 2, 1),
        )
        return _case(f"{form} {a.pobox[i]}", rng, upper=0.3)
    geo = geography()
    parts = [f"{a.house[i]} 1/2" if a.half[i] else str(a.house[i])]
    if a.predir[i] >= 0:
        full, abbr = DIRECTIONALS[a.predir[i]]
        parts.append(rng.weighted((full, abbr, abbr + "."), (3, 6, 1)))
    sid = int(a.street[i])
    parts.append(geo.street_alt[sid] if rng.chance(0.3) else geo.street[sid])
    full, abbr, _w = SUFFIXES[a.suffix[i]]
    if not rng.chance(0.02):
        alternates = SUFFIX_ALTERNATES.get(full, ())
        options = (full, abbr, abbr + "." if abbr != full else abbr, *alternates)
        weights = (4, 5, 1, *([0.5] * len(alternates)))
        parts.append(rng.weighted(options, weights))
    if a.postdir[i] >= 0:
        full_d, abbr_d = DIRECTIONALS[a.postdir[i]]
        parts.append(rng.weighted((full_d, abbr_d), (3, 7)))
    line = " ".join(parts)
    if a.unit_kind[i] >= 0:
        num = int(a.unit_num[i])
        letter = int(a.unit_letter[i])
        value = (str(num) if num > 0 else "") + (_LETTERS[letter] if letter >= 0 else "")
        desig = rng.choice(UNIT_TYPES[a.unit_kind[i]])
        unit = f"#{value}" if desig == "#" and rng.chance(0.7) else f"{desig} {value}"
        line += (", " if rng.chance(0.25) else " ") + unit
    line = _case(line, rng)
    if rng.chance(0.03):
        line = line.replace(" ", "  ", 1) + (" " if rng.chance(0.5) else "")
    return line


def request_city(name: str, rng: RowRng) -> str:
    """A city name as typed: case varies, Saint/St. varies."""
    if name.startswith("Saint ") and rng.chance(0.5):
        name = rng.choice(("St. ", "St ")) + name[6:]
    if rng.chance(0.1):
        name = strip_accents(name)
    return _case(name, rng, upper=0.35)


def request_zip(a: Addresses, i: int, rng: RowRng) -> str:
    """Mostly five digits; sometimes ZIP+4."""
    z5 = f"{a.zip5[i]:05d}"
    u = rng.random()
    if u < 0.85:
        return z5
    return f"{z5}-{a.zip4[i]:04d}" if u < 0.95 else f"{z5}{a.zip4[i]:04d}"


# --- the generator's own notion of "same street line" -----------------------------------------

_TOKEN = {full.upper(): abbr.upper() for full, abbr, _w in SUFFIXES}
_TOKEN |= {abbr.upper(): abbr.upper() for _full, abbr, _w in SUFFIXES}
for _full, _alts in SUFFIX_ALTERNATES.items():
    _abbr = next(s[1] for s in SUFFIXES if s[0] == _full).upper()
    _TOKEN |= {alt.upper().rstrip("."): _abbr for alt in _alts}
_TOKEN |= {full.upper(): abbr for full, abbr in DIRECTIONALS}
_TOKEN |= {
    w.upper(): f"{n}{'st' if n == 1 else 'nd' if n == 2 else 'rd' if n == 3 else 'th'}".upper()
    for n, w in enumerate(
        ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth",
         "Tenth"), start=1)
}  # fmt: skip
_TOKEN |= {"SAINT": "ST"}
_UNIT_WORDS = {d.upper().rstrip(".") for kind in UNIT_TYPES for d in kind} | {"#"}


def canonical_street(text: str) -> str:
    """One spelling per street line: USPS abbreviations, units as '# N', PO boxes as 'PO BOX N'.

    Units are compared by value only, so "Apt 5", "#5" and "Unit 5" agree.
    """
    t = strip_accents(text).upper().replace("#", " # ")
    t = re.sub(r"[.,]", " ", t)
    t = re.sub(r"\bP\s*O\s+BOX\b|\bPOST OFFICE BOX\b", "PO BOX", t)
    tokens = t.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in _UNIT_WORDS and i + 1 < len(tokens) and out and out[:2] != ["PO", "BOX"]:
            out.extend(["#", tokens[i + 1].lstrip("#")])
            i += 2
            continue
        out.append(tok if out[:1] == ["PO"] else _TOKEN.get(tok, tok))
        i += 1
    return " ".join(out)


HOUSE_AND_STREET = re.compile(r"^\s*\d+(?: 1/2)?\s+[A-Za-zÀ-ÿ0-9]")
PO_BOX = re.compile(r"^\s*(?:P\.?\s?O\.?\s+BOX|POST OFFICE BOX)\s+\d+\s*$", re.IGNORECASE)


def looks_deliverable(street: str) -> bool:
    """A house number followed by a street name, or a numbered PO Box."""
    return bool(HOUSE_AND_STREET.match(street) or PO_BOX.match(street))
