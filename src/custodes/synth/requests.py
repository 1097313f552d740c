"""Request rows and their truth: who each row really is, and why it is hard.

Every row has one primary ``category`` and a list of ``tags`` (all its traits). Refused rows
carry exactly one defect, so the expected reason is unambiguous:

- ``missing_name``: first_name or last_name is blank, or is a "name unknown" placeholder
  (FNU, LNU, UNKNOWN);
- ``missing_address``: street is blank (city, state and ZIP may still be there);
- ``placeholder_address``: street is not a house number + street name nor a numbered PO Box
  ("UNKNOWN", "Don't Care 12345", "Banana Keyboard", "123 Fake St", ...), even when the row
  carries the correct TIN of a real taxpayer;
- ``invalid_tin``: a TIN is present but is not nine digits once dashes and spaces are removed.
  A mistyped nine-digit TIN is not invalid (that is a ``typo``).

``info_floor`` marks match rows that the generator made indistinguishable from another person
on file: no TIN, and some other filer agrees with every field given (name up to nicknames and
surname forms, middle initial, date or year of birth, Jr/Sr, and an address on file for both).
A matcher cannot be blamed for those.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from custodes.synth.people import (
    CHILD,
    GRANDPARENT,
    JUNIOR,
    REF_DAY,
    SPOUSE,
    TAX_YEARS,
    Master,
    People,
    Strangers,
)
from custodes.synth.places import Addresses, request_city, request_street, request_zip
from custodes.synth.pools import (
    DIRECTIONALS,
    INVALID_TIN_FORMS,
    NICKNAMES,
    PLACEHOLDER_STREETS,
    PLACEHOLDER_WITH_ZIP,
    RANDOM_WORDS,
    SUFFIXES,
    geography,
    name_pools,
    strip_accents,
)
from custodes.synth.text import (
    RowRng,
    dashed,
    day_to_date,
    format_dob,
    read_dob,
    typo_digits,
    typo_word,
    valid_tin,
)

REQUEST_COLUMNS: tuple[str, ...] = (
    "request_id", "first_name", "middle_name", "last_name", "dob", "street", "city", "state",
    "zip", "tin", "case_reference",
)  # fmt: skip
TRUTH_COLUMNS: tuple[str, ...] = (
    "request_id", "expected_outcome", "expected_reason", "tin", "address_status", "category",
    "tags", "info_floor",
)  # fmt: skip

SHARES: dict[str, float] = {
    # subjects on file (expected: match)
    "twin": 0.04, "jr_sr": 0.04, "namesake": 0.04, "hispanic_surname": 0.05, "accent": 0.03,
    "nickname": 0.04, "itin": 0.03, "po_box": 0.03, "moved": 0.06, "household": 0.06,
    "new_address": 0.04, "typo": 0.06, "missing_dob": 0.04, "clean": 0.14,
    # subjects not on file (expected: no_match)
    "out_of_master": 0.07, "not_in_master": 0.12,
    # one defect each (expected: refused)
    "placeholder_address": 0.06, "missing_address": 0.02, "invalid_tin": 0.015,
    "missing_name": 0.015,
}  # fmt: skip
"""Target share of each category; hard ones are served first, shortfalls go to ``clean``."""

MATCH_CATEGORIES = frozenset(
    {"twin", "jr_sr", "namesake", "hispanic_surname", "accent", "nickname", "itin", "po_box",
     "moved", "household", "new_address", "typo", "missing_dob", "clean"}
)  # fmt: skip
NO_MATCH_CATEGORIES = frozenset({"out_of_master", "not_in_master"})
REFUSED_CATEGORIES = frozenset({"placeholder_address", "missing_address", "invalid_tin", "missing_name"})

_PARTICLES = frozenset({"DE", "LA", "DEL", "LOS", "LAS", "Y", "VAN", "ST", "SAINT", "DELA"})
_SUFFIX_WORDS = frozenset({"JR", "SR", "II", "III", "IV"})
_FIRST_PLACEHOLDERS = ("FNU", "UNKNOWN")
_LAST_PLACEHOLDERS = ("LNU", "UNKNOWN", "Unknown")


@dataclass(frozen=True)
class Subject:
    """Who a request row is about (on file or not), by pool ids."""

    first: int
    middle: int
    sur1: int
    sur2: int
    dob: int
    tin: int
    keep_accent: bool


@dataclass
class _Evidence:
    person: int
    addr: int
    tin_given: bool
    first: str | None
    middle: str | None
    last: str | None
    dob: str | None
    suffix: bool


@dataclass
class _Out:
    rows: list[dict[str, str | None]] = field(default_factory=list)
    truth: list[dict[str, str | None]] = field(default_factory=list)
    evidence: list[_Evidence | None] = field(default_factory=list)


@cache
def _norm_tokens(text: str | None) -> tuple[str, ...]:
    """Upper-case ASCII words of a name (the generator's own, simple normalisation)."""
    if not text:
        return ()
    t = strip_accents(text).upper().replace("'", "").replace(".", " ")
    return tuple(re.sub(r"[^A-Z]+", " ", t).split())


@cache
def _formals_of() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for formal, nicks in NICKNAMES.items():
        for nick in nicks:
            out.setdefault(" ".join(_norm_tokens(nick)), set()).add(formal)
    return {k: frozenset(v) for k, v in out.items()}


@cache
def _first_family(name: str) -> frozenset[str]:
    """Normalised spellings a requester could use for this given name."""
    key = " ".join(_norm_tokens(name))
    formals = {name, *_formals_of().get(key, frozenset())}
    family = {key, _norm_tokens(name)[0] if key else ""}
    for formal in formals:
        family.add(" ".join(_norm_tokens(formal)))
        family.update(" ".join(_norm_tokens(n)) for n in NICKNAMES.get(formal, ()))
    family.discard("")
    return frozenset(family)


class _Builder:
    def __init__(
        self,
        *,
        rng: np.random.Generator,
        p: People,
        a: Addresses,
        master: Master,
        strangers: Strangers,
        extra_start: int,
    ) -> None:
        self.rng = rng
        self.rr = RowRng(rng)
        self.p = p
        self.a = a
        self.m = master
        self.s = strangers
        self.pools = name_pools()
        self.geo = geography()
        self.used = np.zeros(len(p), dtype=np.bool_)
        self.stranger_next = 0
        self.out = _Out()
        self.all_tins = set(p.tin.tolist()) | set(strangers.tin.tolist())
        extra = np.arange(extra_start, len(a), dtype=np.int64)
        self.extra_by_city: dict[int, list[int]] = {}
        for j, c in zip(extra.tolist(), a.city[extra].tolist(), strict=True):
            self.extra_by_city.setdefault(c, []).append(j)
        self.extra_any = rng.permutation(extra).tolist()
        self.extra_taken: set[int] = set()
        # person -> distinct addresses on master rows
        by_person = np.lexsort((master.pairs_addr, master.pairs_person))
        self.pp_addr: list[int] = master.pairs_addr[by_person].tolist()
        pp_person = master.pairs_person[by_person]
        self.pp_start: list[int] = np.searchsorted(pp_person, np.arange(len(p) + 1)).tolist()
        self.n_addrs = np.diff(np.asarray(self.pp_start))
        self.at_person: list[int] = master.pairs_person.tolist()
        self.at_start: list[int] = np.searchsorted(master.pairs_addr, np.arange(len(a) + 1)).tolist()
        hh_sizes = np.bincount(p.hh)
        self.hh_start = (np.cumsum(hh_sizes) - hh_sizes).astype(np.int64)
        self.hh_size = hh_sizes.astype(np.int64)
        self._dob_index: dict[int, list[int]] | None = None
        # how many filers share first name and surname(s) with each person in the same city
        filers = np.flatnonzero(p.filer)
        rec_city = a.city[master.rec_addr[filers]]
        year = p.dob.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        keys = pl.DataFrame(
            {"i": filers, "f": p.first[filers], "s1": p.sur1[filers], "s2": p.sur2[filers],
             "c": rec_city, "y": year[filers]}
        ).with_columns(
            pl.len().over(["f", "s1", "s2", "c"]).alias("n"),
            pl.len().over(["f", "s1", "s2", "c", "y"]).alias("ny"),
        )  # fmt: skip
        self.namesake_count = np.zeros(len(p), dtype=np.int64)
        self.namesake_count[keys["i"].to_numpy()] = keys["n"].to_numpy()
        self.namesake_year_count = np.zeros(len(p), dtype=np.int64)
        self.namesake_year_count[keys["i"].to_numpy()] = keys["ny"].to_numpy()

    # ---- lookups -------------------------------------------------------------------------

    def addrs_of(self, i: int) -> list[int]:
        """Distinct addresses on the person's master rows."""
        return self.pp_addr[self.pp_start[i] : self.pp_start[i + 1]]

    def persons_at(self, j: int) -> list[int]:
        """Filers with address ``j`` on some master row."""
        return self.at_person[self.at_start[j] : self.at_start[j + 1]]

    def subject(self, i: int) -> Subject:
        p = self.p
        return Subject(
            int(p.first[i]), int(p.middle[i]), int(p.sur1[i]), int(p.sur2[i]), int(p.dob[i]),
            int(p.tin[i]), bool(p.accent_keep[i]),
        )  # fmt: skip

    def stranger(self) -> tuple[Subject, int]:
        k = self.stranger_next
        self.stranger_next += 1
        s = self.s
        subj = Subject(
            int(s.first[k]), int(s.middle[k]), int(s.sur1[k]), int(s.sur2[k]), int(s.dob[k]),
            int(s.tin[k]), self.rr.chance(0.6),
        )  # fmt: skip
        return subj, int(s.city[k])

    def fresh_address(self, city: int) -> int:
        """An address nobody on file ever used, in ``city`` while that city has some left."""
        for pool in (self.extra_by_city.get(city, []), self.extra_any):
            while pool:
                j = pool.pop()
                if j not in self.extra_taken:
                    self.extra_taken.add(j)
                    return j
        raise RuntimeError("the address pool for requests is exhausted")

    def random_city(self) -> int:
        """A city weighted by population."""
        u = self.rr.random()
        return int(np.searchsorted(self.geo.city_cum, u, side="right").clip(0, len(self.geo.city) - 1))

    # ---- rendering -------------------------------------------------------------------------

    def name_of(self, s: Subject, *, flip_accent: bool = False) -> tuple[str, str | None, str]:
        keep = s.keep_accent != flip_accent
        f = self.pools.first if keep else self.pools.first_plain
        sn = self.pools.surnames if keep else self.pools.surnames_plain
        last = sn[s.sur1] + (" " + sn[s.sur2] if s.sur2 >= 0 else "")
        return f[s.first], (f[s.middle] if s.middle >= 0 else None), last

    def _case_fn(self) -> Callable[[str], str]:
        u = self.rr.random()
        if u < 0.35:
            return str.upper
        if u < 0.40:
            return str.lower
        return str

    def render(
        self, s: Subject, j: int, tags: list[str], *, tin_p: float = 0.4, flip_accent: bool = False
    ) -> dict[str, str | None]:
        rr = self.rr
        first, middle_full, last = self.name_of(s, flip_accent=flip_accent)
        middle: str | None = None
        if middle_full is not None:
            u = rr.random()
            if u < 0.3:
                middle = middle_full[0] + ("." if rr.chance(0.3) else "")
                tags.append("middle_initial")
            elif u < 0.55:
                middle = middle_full
        d = day_to_date(s.dob)
        dob = format_dob(d, rr.weighted(("iso", "us", "compact"), (80, 15, 5)))
        tin: str | None = None
        if rr.chance(tin_p):
            digits = f"{s.tin:09d}"
            tin = dashed(digits) if rr.chance(0.4) else digits
            tags.append("tin_given")
        case = self._case_fn()
        row: dict[str, str | None] = {
            "first_name": case(first),
            "middle_name": case(middle) if middle else None,
            "last_name": case(last),
            "dob": dob,
            "tin": tin,
            "case_reference": self.case_reference(),
        }
        row.update(self.address_fields(j))
        return row

    def address_fields(self, j: int, *, allow_blank: bool = True) -> dict[str, str | None]:
        rr = self.rr
        a = self.a
        city = request_city(self.geo.city[a.city[j]], rr)
        state: str | None = self.geo.state[a.city[j]]
        if rr.chance(0.03):
            state = state.lower() if state else state
        z: str | None = request_zip(a, j, rr)
        u = rr.random() if allow_blank else 1.0
        c: str | None = city
        if u < 0.03:
            c = None  # the ZIP still places it
        elif u < 0.06:
            z = None  # city and state still place it
        elif u < 0.08:
            state = None
        return {"street": request_street(a, j, rr), "city": c, "state": state, "zip": z}

    def case_reference(self) -> str:
        rr = self.rr
        order = date(2019, 1, 1).toordinal() + rr.below(6 * 365)
        return f"A{rr.between(200_000_000, 249_999_999)} {date.fromordinal(order).isoformat()}"

    # ---- emitting --------------------------------------------------------------------------

    def emit_match(
        self, row: dict[str, str | None], i: int, j: int, category: str, tags: list[str],
        *, suffix: bool = False,
    ) -> None:  # fmt: skip
        rec = int(self.m.rec_addr[i])
        on_file = self.addrs_of(i)
        status = "current" if j == rec else "previous" if j in on_file else "not_on_file"
        for trait in self.traits(i):
            tags.append(trait)
        self.out.rows.append(row)
        self.out.truth.append(
            {
                "expected_outcome": "match",
                "expected_reason": None,
                "tin": f"{int(self.p.tin[i]):09d}",
                "address_status": status,
                "category": category,
                "tags": _tags(category, tags),
            }
        )
        self.out.evidence.append(
            _Evidence(
                person=i,
                addr=j if status != "not_on_file" else -1,
                tin_given=row["tin"] is not None,
                first=row["first_name"],
                middle=row["middle_name"],
                last=row["last_name"],
                dob=row["dob"],
                suffix=suffix,
            )
        )

    def emit_other(
        self, row: dict[str, str | None], outcome: str, reason: str, category: str, tags: list[str]
    ) -> None:
        self.out.rows.append(row)
        self.out.truth.append(
            {
                "expected_outcome": outcome,
                "expected_reason": reason or None,
                "tin": None,
                "address_status": None,
                "category": category,
                "tags": _tags(category, tags),
            }
        )
        self.out.evidence.append(None)

    def traits(self, i: int) -> list[str]:
        p = self.p
        out = []
        if p.itin[i]:
            out.append("itin")
        if p.twin[i] >= 0:
            out.append("twin")
        if p.namesake[i] >= 0:
            out.append("jr_sr")
        if self.hh_size[p.hh[i]] > 1:
            out.append("household")
        if self.a.pobox[self.m.rec_addr[i]] > 0:
            out.append("po_box")
        if p.sur2[i] >= 0 or self.pools.particle_surname[p.sur1[i]]:
            out.append("two_surnames" if p.sur2[i] >= 0 else "particle_surname")
        if self.namesake_count[i] > 1:
            out.append("namesake")
        return out

    # ---- consistency: could this request just as well be about person y? -----------------

    def consistent(self, y: int, ev: _Evidence, x_dob: int) -> bool:
        p = self.p
        pools = self.pools
        if ev.suffix and int(p.namesake[y]) == ev.person:
            return False
        req_first = " ".join(_norm_tokens(ev.first))
        fam = _first_family(pools.first[p.first[y]])
        compound = " ".join(_norm_tokens(f"{ev.first or ''} {ev.middle or ''}"))
        if req_first not in fam and compound not in fam:
            return False
        y_sur = [pools.surnames[p.sur1[y]]] + ([pools.surnames[p.sur2[y]]] if p.sur2[y] >= 0 else [])
        y_tokens = {t for s in y_sur for t in _norm_tokens(s)}
        y_concat = {"".join(_norm_tokens(s)) for s in y_sur} | {
            "".join(t for s in y_sur for t in _norm_tokens(s))
        }
        req_last = [t for t in _norm_tokens(ev.last) if t not in _SUFFIX_WORDS]
        req_core = [t for t in req_last if t not in _PARTICLES] or req_last
        if not req_core or not all(t in y_tokens or t in y_concat for t in req_core):
            return False
        req_mid = [t for t in _norm_tokens(ev.middle) if t not in _SUFFIX_WORDS]
        if req_mid and p.middle[y] >= 0 and not all(t in y_tokens for t in req_mid):
            y_mid = _norm_tokens(pools.first[p.middle[y]])
            if not y_mid or y_mid[0][0] != req_mid[0][0]:
                return False
        when, year = read_dob(ev.dob)
        if when is not None:
            return int(p.dob[y]) == x_dob
        if year is not None:
            return day_to_date(int(p.dob[y])).year == day_to_date(x_dob).year
        return True

    def dob_index(self) -> dict[int, list[int]]:
        if self._dob_index is None:
            idx: dict[int, list[int]] = {}
            for i in np.flatnonzero(self.p.filer).tolist():
                idx.setdefault(int(self.p.dob[i]), []).append(i)
            self._dob_index = idx
        return self._dob_index

    def at_floor(self, ev: _Evidence) -> bool:
        if ev.tin_given:
            return False
        x = ev.person
        x_dob = int(self.p.dob[x])
        if ev.addr >= 0:
            candidates = self.persons_at(ev.addr)
        else:
            when, _year = read_dob(ev.dob)
            if when is None:  # pragma: no cover - the generator always gives one here
                raise RuntimeError("a not_on_file request needs a usable dob or a TIN")
            candidates = self.dob_index().get(x_dob, [])
        return any(y != x and self.consistent(y, ev, x_dob) for y in candidates)

    # ---- selection -------------------------------------------------------------------------

    def pick(
        self, mask: npt.NDArray[np.bool_], n: int, accept: Callable[[int], bool] | None = None
    ) -> list[int]:
        candidates = np.flatnonzero(mask & ~self.used)
        if n <= 0 or len(candidates) == 0:
            return []
        order = self.rng.permutation(candidates)
        chosen: list[int] = []
        for i in order.tolist():
            if accept is None or accept(i):
                chosen.append(i)
                self.used[i] = True
                if len(chosen) == n:
                    break
        return chosen


def _tags(category: str, tags: list[str]) -> str:
    return ";".join(dict.fromkeys([category, *sorted(set(tags) - {category})]))


# ---- the categories ---------------------------------------------------------------------------


def _match_rows(b: _Builder, counts: dict[str, int]) -> dict[str, int]:
    """Build every match category; returns the shortfall per category."""
    p, m, pools, rr = b.p, b.m, b.pools, b.rr
    on_file = p.filer
    special = (p.twin >= 0) | (p.namesake >= 0)
    rec = m.rec_addr
    plain = on_file & ~special
    n_addrs = b.n_addrs
    rec_shared = np.zeros(len(p), dtype=np.bool_)
    filers = np.flatnonzero(on_file)
    counts_at = np.bincount(rec[filers], minlength=len(b.a))
    rec_shared[filers] = counts_at[rec[filers]] > 1
    short: dict[str, int] = {}

    def record(category: str, chosen: list[int]) -> None:
        short[category] = counts[category] - len(chosen)

    # twins: the other twin shares dob, surname and (usually) the address
    chosen = b.pick(on_file & (p.twin >= 0) & p.filer[np.maximum(p.twin, 0)], counts["twin"])
    for i in chosen:
        tags: list[str] = []
        s = b.subject(i)
        row = b.render(s, int(rec[i]), tags)
        t = int(p.twin[i])
        if rr.chance(0.3):
            row["dob"] = None
            tags.append("dob_blank")
        if p.middle[i] >= 0 and p.middle[i] == p.middle[t]:
            tags.append("same_middle")
        if _similar(pools.first[p.first[i]], pools.first[p.first[t]]):
            tags.append("similar_names")
        if rec[t] != rec[i]:
            tags.append("twin_apart")
        b.emit_match(row, i, int(rec[i]), "twin", tags)
    record("twin", chosen)

    # fathers and sons with one full name
    chosen = b.pick(on_file & (p.namesake >= 0), counts["jr_sr"])
    for i in chosen:
        tags = []
        s = b.subject(i)
        others = [x for x in b.addrs_of(i) if x != rec[i]]
        j = int(rr.choice(others)) if others and rr.chance(0.15) else int(rec[i])
        row = b.render(s, j, tags)
        u = rr.random()
        if u < 0.35:
            row["dob"] = None
            tags.append("dob_blank")
        elif u < 0.45:
            row["dob"] = _malformed_dob(s, rr)
            tags.append("dob_malformed")
        suffix = rr.chance(0.35)
        if suffix:
            junior = p.role[i] == JUNIOR
            word = rr.choice(("Jr", "Jr.", "JR", "II")) if junior else rr.choice(("Sr", "Sr.", "SR"))
            if rr.chance(0.85):
                sep = rr.choice((" ", ", ")) if rr.chance(0.7) else " "
                row["last_name"] = f"{row['last_name']}{sep}{word}"
            else:
                row["first_name"] = f"{row['first_name']} {word}"
            tags.append("suffix")
        other = int(p.namesake[i])
        if j in b.addrs_of(other):
            tags.append("shared_address")
        b.emit_match(row, i, j, "jr_sr", tags, suffix=suffix)
    record("jr_sr", chosen)

    # namesakes: same first and last name in the same city
    chosen = b.pick(plain & (b.namesake_count > 1), counts["namesake"])
    for i in chosen:
        tags = []
        row = b.render(b.subject(i), int(rec[i]), tags, tin_p=0.35)
        if rr.chance(0.15):
            row["dob"] = None
            tags.append("dob_blank")
        if b.namesake_year_count[i] > 1:
            tags.append("same_birth_year")
        b.emit_match(row, i, int(rec[i]), "namesake", tags)
    record("namesake", chosen)

    # two surnames and particles, in every form
    hisp = plain & ((p.sur2 >= 0) | pools.particle_surname[p.sur1])
    chosen = b.pick(hisp, counts["hispanic_surname"])
    for i in chosen:
        tags = []
        s = b.subject(i)
        row = b.render(s, int(rec[i]), tags)
        last, middle, form = _surname_form(b, s, rr)
        case = str.upper if (row["last_name"] or "").isupper() else str
        row["last_name"] = case(last)
        if middle is not None:
            row["middle_name"] = case(middle)
        tags.append(form)
        b.emit_match(row, i, int(rec[i]), "hispanic_surname", tags)
    record("hispanic_surname", chosen)

    # accents written differently on each side
    accented = (
        pools.accented_first[p.first]
        | pools.accented_surname[p.sur1]
        | (pools.accented_surname[np.maximum(p.sur2, 0)] & (p.sur2 >= 0))
    )
    chosen = b.pick(plain & accented, counts["accent"])
    for i in chosen:
        tags = ["accent_stripped" if p.accent_keep[i] else "accent_added"]
        row = b.render(b.subject(i), int(rec[i]), tags, flip_accent=True)
        b.emit_match(row, i, int(rec[i]), "accent", tags)
    record("accent", chosen)

    # nicknames and spelling variants, never one that fits a housemate
    has_nick = np.asarray([n in NICKNAMES for n in pools.first])[p.first]

    def safe_nicknames(i: int) -> list[str]:
        formal = pools.first[p.first[i]]
        mates = [
            x
            for x in range(int(b.hh_start[p.hh[i]]), int(b.hh_start[p.hh[i]] + b.hh_size[p.hh[i]]))
            if x != i
        ] + [x for x in b.persons_at(int(rec[i])) if x != i]
        taken: set[str] = set()
        for x in mates:
            taken |= _first_family(pools.first[p.first[x]])
        return [n for n in NICKNAMES[formal] if " ".join(_norm_tokens(n)) not in taken]

    chosen = b.pick(plain & has_nick, counts["nickname"], accept=lambda i: bool(safe_nicknames(i)))
    for i in chosen:
        tags = []
        row = b.render(b.subject(i), int(rec[i]), tags)
        nick = rr.choice(safe_nicknames(i))
        row["first_name"] = nick.upper() if (row["first_name"] or "").isupper() else nick
        b.emit_match(row, i, int(rec[i]), "nickname", tags)
    record("nickname", chosen)

    # ITIN holders
    chosen = b.pick(plain & p.itin, counts["itin"])
    for i in chosen:
        tags = []
        row = b.render(b.subject(i), int(rec[i]), tags, tin_p=0.6)
        b.emit_match(row, i, int(rec[i]), "itin", tags)
    record("itin", chosen)

    # PO Boxes are deliverable
    chosen = b.pick(plain & (b.a.pobox[np.maximum(rec, 0)] > 0) & (rec >= 0), counts["po_box"])
    for i in chosen:
        tags = []
        row = b.render(b.subject(i), int(rec[i]), tags)
        b.emit_match(row, i, int(rec[i]), "po_box", tags)
    record("po_box", chosen)

    # a previous address
    chosen = b.pick(plain & (n_addrs > 1), counts["moved"])
    for i in chosen:
        tags = []
        j = int(rr.choice([x for x in b.addrs_of(i) if x != rec[i]]))
        row = b.render(b.subject(i), j, tags)
        if p.leaver[i] and j == p.a1[i]:
            tags.append("left_home")
        b.emit_match(row, i, j, "moved", tags)
    record("moved", chosen)

    # relatives at the same address
    chosen = b.pick(plain & rec_shared, counts["household"])
    for i in chosen:
        tags = []
        row = b.render(b.subject(i), int(rec[i]), tags)
        if rr.chance(0.08):
            row["dob"] = None
            tags.append("dob_blank")
        b.emit_match(row, i, int(rec[i]), "household", tags)
    record("household", chosen)

    # an address not on file (moved since the last return); dob always given
    chosen = b.pick(plain, counts["new_address"])
    for i in chosen:
        tags = []
        city = int(b.a.city[rec[i]]) if rr.chance(0.6) else b.random_city()
        j = b.fresh_address(city)
        row = b.render(b.subject(i), j, tags, tin_p=0.5)
        b.emit_match(row, i, j, "new_address", tags)
    record("new_address", chosen)

    # typos in every field
    chosen = b.pick(plain, counts["typo"])
    for i in chosen:
        tags = []
        row = b.render(b.subject(i), int(rec[i]), tags, tin_p=0.5)
        kinds = ["first", "last", "dob", "street_number", "zip", "city"]
        weights = [3.0, 3.0, 2.0, 2.0, 1.5, 1.0]
        if row["tin"] is not None:
            kinds.append("tin")
            weights.append(3.0)
        n_typos = 2 if rr.chance(0.3) else 1
        done: set[str] = set()
        for _attempt in range(20):
            kind = rr.weighted(kinds, weights)
            if kind not in done and _apply_typo(b, row, kind, i):
                tags.append(f"typo_{kind}")
                done.add(kind)
            if len(done) == n_typos:
                break
        b.emit_match(row, i, int(rec[i]), "typo", tags)
    record("typo", chosen)

    # dob blank or malformed: weaker evidence, never a refusal
    chosen = b.pick(plain, counts["missing_dob"])
    for i in chosen:
        tags = []
        s = b.subject(i)
        row = b.render(s, int(rec[i]), tags)
        if rr.chance(0.65):
            row["dob"] = None
            tags.append("dob_blank")
        else:
            row["dob"] = _malformed_dob(s, rr)
            tags.append("dob_malformed")
        b.emit_match(row, i, int(rec[i]), "missing_dob", tags)
    record("missing_dob", chosen)

    # straightforward
    extra = sum(max(v, 0) for v in short.values())
    chosen = b.pick(plain, counts["clean"] + extra)
    for i in chosen:
        tags = []
        row = b.render(b.subject(i), int(rec[i]), tags)
        b.emit_match(row, i, int(rec[i]), "clean", tags)
    record("clean", chosen)
    short["clean"] = counts["clean"] + extra - len(chosen)
    return short


def _similar(a: str, b: str) -> bool:
    a, b = strip_accents(a).lower(), strip_accents(b).lower()
    return a[:3] == b[:3] or a[-3:] == b[-3:]


def _malformed_dob(s: Subject, rr: RowRng) -> str:
    d = day_to_date(s.dob)
    return rr.choice(
        (
            f"13/45/{d.year}", f"{d.year}-02-30", "unknown", "UNKNOWN", "00/00/0000", "N/A",
            f"{d.year}-{d.month:02d}-00", f"{d.month:02d}/{d.year}", "?", f"{d.year}-13-{d.day:02d}",
        )
    )  # fmt: skip


def _surname_form(b: _Builder, s: Subject, rr: RowRng) -> tuple[str, str | None, str]:
    """The surname as a requester writes it: (last_name, middle_name or None, tag)."""
    keep = s.keep_accent
    sn = b.pools.surnames if keep else b.pools.surnames_plain
    p1 = sn[s.sur1]
    p2 = sn[s.sur2] if s.sur2 >= 0 else None
    particle = b.pools.particle_surname
    if p2 is not None and not (particle[s.sur1] and rr.chance(0.5)):
        form = rr.weighted(
            ("hs_first_only", "hs_second_only", "hs_hyphen", "hs_reversed", "hs_y_joiner",
             "hs_second_in_middle", "hs_concatenated"),
            (25, 10, 15, 10, 10, 15, 5),
        )  # fmt: skip
        if form == "hs_first_only":
            return p1, None, form
        if form == "hs_second_only":
            return p2, None, form
        if form == "hs_hyphen":
            return f"{p1}-{p2}", None, form
        if form == "hs_reversed":
            return f"{p2} {p1}", None, form
        if form == "hs_y_joiner":
            return f"{p1} y {p2}", None, form
        if form == "hs_second_in_middle":
            return p1, p2, form
        return f"{p1.replace(' ', '')}{p2.replace(' ', '')}", None, form
    words = p1.split()
    form = rr.weighted(
        ("hs_particle_title", "hs_particle_joined", "hs_particle_fused", "hs_particle_dropped",
         "hs_particle_camel"),
        (30, 20, 25, 15, 10),
    )  # fmt: skip
    if form == "hs_particle_title":
        core = " ".join(w[:1].upper() + w[1:] for w in words)
    elif form == "hs_particle_joined":  # "Dela Cruz"
        core = ("".join(words[:-1]).capitalize() + " " + words[-1]) if len(words) > 1 else p1
    elif form == "hs_particle_fused":  # "Delacruz"
        core = "".join(words).capitalize()
    elif form == "hs_particle_dropped":  # "Cruz"
        core = words[-1]
    else:  # "DeLaCruz"
        core = "".join(w[:1].upper() + w[1:] for w in words)
    return (core + (" " + p2 if p2 else "")), None, form


def _apply_typo(b: _Builder, row: dict[str, str | None], kind: str, i: int) -> bool:
    rr = b.rr
    if kind == "first":
        row["first_name"] = typo_word(row["first_name"] or "", rr)
    elif kind == "last":
        row["last_name"] = typo_word(row["last_name"] or "", rr)
    elif kind == "dob":
        d = day_to_date(int(b.p.dob[i]))
        if rr.chance(0.5) and d.day != d.month:
            row["dob"] = f"{d.year:04d}-{d.day:02d}-{d.month:02d}"  # day and month swapped
        else:
            iso = d.isoformat()
            pos = rr.choice((2, 3, 8, 9))  # decade, year, day digits
            digit = str((int(iso[pos]) + rr.between(1, 9)) % 10)
            row["dob"] = iso[:pos] + digit + iso[pos + 1 :]
    elif kind == "street_number":
        street = row["street"] or ""
        m = re.search(r"\d+", street)
        if m is None:  # pragma: no cover - every deliverable street has a number
            return False
        new = typo_digits(m.group(0), rr, keep_length=False)
        row["street"] = street[: m.start()] + new + street[m.end() :]
    elif kind == "zip":
        z = row["zip"]
        if not z:
            return False
        row["zip"] = typo_digits(z[:5], rr) + z[5:]
    elif kind == "city":
        if not row["city"]:
            return False
        row["city"] = typo_word(row["city"], rr)
    else:  # tin: one digit or a transposition, still a well-formed TIN of nobody
        digits = f"{int(b.p.tin[i]):09d}"
        for _ in range(20):
            new = typo_digits(digits, rr)
            if valid_tin(new) and int(new) not in b.all_tins:
                row["tin"] = dashed(new) if "-" in (row["tin"] or "") else new
                return True
        return False
    return True


def _no_match_rows(b: _Builder, counts: dict[str, int]) -> None:
    p, m, rr = b.p, b.m, b.rr
    rec = m.rec_addr
    filers = np.flatnonzero(p.filer)
    fam_key = pl.DataFrame({"a": rec[filers], "s": p.sur1[filers]}).unique()
    non = np.flatnonzero(~p.filer & ((REF_DAY - p.dob) / 365.2425 >= 14))
    probe = pl.DataFrame({"i": non, "a": p.a0[non], "s": p.sur1[non]})
    trap = probe.join(fam_key, on=["a", "s"], how="semi").sort("i")["i"].to_numpy()
    mask = np.zeros(len(p), dtype=np.bool_)
    mask[trap] = True

    def rows_for(i: int) -> tuple[dict[str, str | None], list[str]]:
        tags: list[str] = []
        row = b.render(b.subject(i), int(p.a0[i]), tags, tin_p=0.25)
        if rr.chance(0.25):
            row["dob"] = None
            tags.append("dob_blank")
        return row, tags

    def accept(i: int) -> bool:
        # the trap must be a different person: no filer at the address fits even the bare
        # name (the generator must not make a no_match row that is really someone on file)
        first, _middle, last = b.name_of(b.subject(i))
        ev = _Evidence(i, int(p.a0[i]), False, first, None, last, None, False)
        return not any(b.consistent(y, ev, int(p.dob[i])) for y in b.persons_at(int(p.a0[i])))

    chosen = b.pick(mask, counts["out_of_master"], accept=accept)
    for i in chosen:
        row, tags = rows_for(i)
        role = int(p.role[i])
        tags.append(
            "nonfiler_twin" if p.twin[i] >= 0
            else {SPOUSE: "nonfiler_spouse", CHILD: "nonfiler_child",
                  GRANDPARENT: "nonfiler_grandparent"}.get(role, "nonfiler_relative")
        )  # fmt: skip
        b.emit_other(row, "no_match", "", "out_of_master", tags)
    shortfall = counts["out_of_master"] - len(chosen)

    # strangers: fresh names; some share a name with a filer in the city, some live at an
    # address a filer left
    vacated = np.setdiff1d(m.addr[m.addr != rec[m.person]], rec[filers])
    for _ in range(counts["not_in_master"] + shortfall):
        tags = []
        s, city = b.stranger()
        u = rr.random()
        j = -1
        if u < 0.2 and len(vacated):
            j = int(vacated[rr.below(len(vacated))])
            first, _middle, last = b.name_of(s)
            ev = _Evidence(-1, j, False, first, None, last, None, False)
            if any(b.consistent(y, ev, s.dob) for y in b.persons_at(j)):
                j = -1
            else:
                tags.append("address_on_file")
        if j < 0:
            j = b.fresh_address(city)
        if 0.2 <= u < 0.35:
            model = int(filers[rr.below(len(filers))])
            s = Subject(int(p.first[model]), s.middle, int(p.sur1[model]), int(p.sur2[model]),
                        s.dob if s.dob != p.dob[model] else s.dob + 400, s.tin, s.keep_accent)  # fmt: skip
            j = b.fresh_address(int(b.a.city[rec[model]]))
            tags.append("namesake_on_file")
        row = b.render(s, j, tags, tin_p=0.25)
        if rr.chance(0.15):
            row["dob"] = None
            tags.append("dob_blank")
        b.emit_other(row, "no_match", "", "not_in_master", tags)


def _refused_rows(b: _Builder, counts: dict[str, int]) -> None:
    p, rr = b.p, b.rr
    rec = b.m.rec_addr

    total = sum(counts[c] for c in REFUSED_CATEGORIES)
    on_file = b.pick(p.filer, int(total * 0.6) + 1)

    def subject() -> tuple[Subject, int, list[str]]:
        if on_file and rr.chance(0.6):
            i = on_file.pop()
            return b.subject(i), int(rec[i]), ["subject_on_file"]
        s, city = b.stranger()
        return s, b.fresh_address(city), ["subject_not_on_file"]

    for _ in range(counts["placeholder_address"]):
        s, j, tags = subject()
        row = b.render(s, j, tags, tin_p=0.5 if "subject_on_file" in tags else 0.3)
        if "subject_on_file" in tags and row["tin"]:
            tags.append("correct_tin")
        z = f"{b.a.zip5[j]:05d}"
        row["street"], kind = _placeholder(b, z)
        tags.append(kind)
        u = rr.random()
        if u < 0.2:
            row["city"] = row["state"] = row["zip"] = None
            tags.append("no_city_zip")
        elif u < 0.5:
            row[rr.choice(("city", "zip"))] = None
        b.emit_other(row, "refused", "placeholder_address", "placeholder_address", tags)

    for _ in range(counts["missing_address"]):
        s, j, tags = subject()
        row = b.render(s, j, tags, tin_p=0.4)
        row["street"] = None
        if rr.chance(0.4):
            row["city"] = row["state"] = row["zip"] = None
            tags.append("no_city_zip")
        b.emit_other(row, "refused", "missing_address", "missing_address", tags)

    for _ in range(counts["invalid_tin"]):
        s, j, tags = subject()
        row = b.render(s, j, tags, tin_p=0.0)
        form = rr.choice(INVALID_TIN_FORMS)
        row["tin"] = _invalid_tin(f"{s.tin:09d}", form, rr)
        tags.append(f"tin_{form}")
        b.emit_other(row, "refused", "invalid_tin", "invalid_tin", tags)

    for _ in range(counts["missing_name"]):
        s, j, tags = subject()
        row = b.render(s, j, tags, tin_p=0.4)
        which = rr.weighted(("first", "last", "both"), (50, 35, 15))
        placeholder = rr.chance(0.15)
        for col in ("first_name", "last_name") if which == "both" else (f"{which}_name",):
            row[col] = (
                rr.choice(_FIRST_PLACEHOLDERS if col == "first_name" else _LAST_PLACEHOLDERS)
                if placeholder
                else None
            )
        tags.append(f"no_{which}_name" + ("_placeholder" if placeholder else ""))
        b.emit_other(row, "refused", "missing_name", "missing_name", tags)


def _placeholder(b: _Builder, zip5: str) -> tuple[str, str]:
    rr = b.rr
    u = rr.random()
    if u < 0.6:
        text = rr.choice(PLACEHOLDER_STREETS)
        v = rr.random()
        if v < 0.2:
            text = text.upper()
        elif v < 0.3:
            text = text.lower()
        return text, "ph_listed"
    if u < 0.75:
        return rr.choice(PLACEHOLDER_WITH_ZIP).format(zip=zip5), "ph_zip"
    if u < 0.92:
        n = 2 if rr.chance(0.8) else 3
        return " ".join(rr.choice(RANDOM_WORDS) for _ in range(n)), "ph_random_words"
    geo = b.geo
    name = geo.street[rr.below(len(geo.street))]
    if name[0].isdigit():
        name = geo.street_alt[geo.street.index(name)]
    pre = (rr.choice(DIRECTIONALS)[rr.below(2)] + " ") if rr.chance(0.2) else ""
    full, abbr, _weight = rr.choice(SUFFIXES)
    return f"{pre}{name} {full if rr.chance(0.5) else abbr}", "ph_no_house_number"


def _invalid_tin(t: str, form: str, rr: RowRng) -> str:
    pos = rr.below(9)
    if form == "drop":
        short = t[:pos] + t[pos + 1 :]
        return short if rr.chance(0.6) else f"{short[:3]}-{short[3:5]}-{short[5:]}"
    if form == "extra":
        return t[:pos] + str(rr.below(10)) + t[pos:]
    if form == "letter_o":
        return t[:pos] + "O" + t[pos + 1 :]
    if form == "letter_s":
        return dashed(t[:pos] + "S" + t[pos + 1 :])
    if form == "short_dashed":
        return f"{t[:3]}-{t[3:5]}-{t[5:8]}"
    if form == "masked":
        return f"XXX-XX-{t[5:]}"
    if form == "alpha":
        return rr.choice(("TIN", "SSN", "ABC")) + t[3:]
    return f"{dashed(t)}{rr.below(10)}"  # long_dashed


def make_requests(
    *,
    rng: np.random.Generator,
    p: People,
    a: Addresses,
    master: Master,
    strangers: Strangers,
    extra_start: int,
    n: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The request batch and its truth, in the same (shuffled) order."""
    b = _Builder(rng=rng, p=p, a=a, master=master, strangers=strangers, extra_start=extra_start)
    counts = {c: int(share * n) for c, share in SHARES.items()}
    counts["clean"] += n - sum(counts.values())
    short = _match_rows(b, counts)
    counts["not_in_master"] += max(short.get("clean", 0), 0)
    _no_match_rows(b, counts)
    _refused_rows(b, counts)

    floor = [ev is not None and b.at_floor(ev) for ev in b.out.evidence]
    order = rng.permutation(len(b.out.rows))
    width = max(7, len(str(len(order))))
    ids = [f"R{k + 1:0{width}d}" for k in range(len(order))]
    req_cols: dict[str, list[str | None]] = {c: [] for c in REQUEST_COLUMNS}
    truth_cols: dict[str, list[str | None]] = {c: [] for c in TRUTH_COLUMNS}
    for rid, k in zip(ids, order.tolist(), strict=True):
        row = b.out.rows[k]
        req_cols["request_id"].append(rid)
        for c in REQUEST_COLUMNS[1:]:
            req_cols[c].append(row[c])
        t = b.out.truth[k]
        truth_cols["request_id"].append(rid)
        for c in TRUTH_COLUMNS[1:-1]:
            truth_cols[c].append(t[c])
        truth_cols["info_floor"].append("true" if floor[k] else "false")
    requests = pl.DataFrame(req_cols, schema=dict.fromkeys(REQUEST_COLUMNS, pl.String))
    truth = pl.DataFrame(truth_cols, schema=dict.fromkeys(TRUTH_COLUMNS, pl.String))
    return requests, truth


__all__ = [
    "MATCH_CATEGORIES",
    "NO_MATCH_CATEGORIES",
    "REFUSED_CATEGORIES",
    "REQUEST_COLUMNS",
    "SHARES",
    "TAX_YEARS",
    "TRUTH_COLUMNS",
    "make_requests",
]
