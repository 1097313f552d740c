"""People in households, their TINs and address histories, and the master file rows.

Everything is vectorised over numpy arrays. Households carry the hard structure: couples,
children, grandparents sharing a surname, adult twins at home, fathers and sons with the same
full name, roommates. Some members never file (they are on no master row): they are the
relatives a careless matcher hands over instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from custodes.synth.places import (
    Addresses,
    draw_cities,
    make_addresses,
    render_master_streets,
    render_master_zips,
)
from custodes.synth.pools import (
    ASIAN,
    FEMALE,
    GROUPS,
    HISPANIC,
    MALE,
    TWIN_PAIRS,
    VIETNAMESE,
    geography,
    name_pools,
)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

TAX_YEARS: tuple[int, ...] = (2021, 2022, 2023, 2024)
REF_DAY = (date(2025, 1, 1) - date(1970, 1, 1)).days
"""Ages are measured at 2025-01-01."""
YEAR_DAYS = 365.2425

HEAD, SPOUSE, CHILD, GRANDPARENT, TWIN, JUNIOR, ROOMMATE = range(7)
ROLES = ("head", "spouse", "child", "grandparent", "twin", "junior", "roommate")

(SINGLE, COUPLE, FAMILY, SINGLE_PARENT, MULTIGEN, TWINS_HOME, JUNIOR_HOME, ROOMMATES,
 TWINS_ALONE) = range(9)  # fmt: skip
_TYPE_P = np.asarray([0.27, 0.235, 0.21, 0.075, 0.06, 0.045, 0.045, 0.045, 0.015])

_ITIN_P = np.asarray([0.005, 0.14, 0.01, 0.06, 0.05, 0.06, 0.06])
"""Share of ITIN holders by group (about 5% overall)."""


@dataclass
class People:
    """Every synthetic person: filers (on the master file) and non-filers."""

    hh: I32
    hh_type: I32
    role: I32
    sex: I32
    group: I32
    first: I32
    middle: I32
    sur1: I32
    sur2: I32
    dob: I32
    """Days since 1970-01-01."""
    tin: I64
    itin: B
    filer: B
    twin: I32
    """The other twin's index, or -1."""
    namesake: I32
    """junior <-> senior: the other man of a same-named father and son, or -1."""
    leaver: B
    accent_keep: B
    a0: I32
    a1: I32
    a2: I32
    m1: I32
    m2: I32

    def __len__(self) -> int:
        return len(self.hh)


@dataclass
class Master:
    """Master rows (person, year, address) and each filer's address of record."""

    person: I32
    year: I32
    addr: I32
    rec_addr: I32
    """Per person: the address on the latest tax year row, -1 for non-filers."""
    pairs_addr: I32
    """All distinct (address, person) pairs of the master rows, sorted by address."""
    pairs_person: I32


def _zipf_draw(rng: np.random.Generator, n: int, ids: I32, cum: npt.NDArray[np.float64]) -> I32:
    out: I32 = ids[np.searchsorted(cum, rng.random(n), side="right").clip(0, len(ids) - 1)]
    return out


def draw_first(rng: np.random.Generator, group: I32, sex: I32) -> I32:
    """Given names by (group, sex), Zipf by rank."""
    pools = name_pools()
    out = np.zeros(len(group), dtype=np.int32)
    for (g, s), ids in pools.first_ids.items():
        mask = (group == g) & (sex == s)
        k = int(mask.sum())
        if k:
            out[mask] = _zipf_draw(rng, k, ids, pools.first_cum[(g, s)])
    return out


def draw_surname(rng: np.random.Generator, group: I32) -> I32:
    """Surnames by group, Zipf by rank plus a long tail of rare names."""
    pools = name_pools()
    out = np.zeros(len(group), dtype=np.int32)
    for g, ids in pools.surname_ids.items():
        mask = group == g
        k = int(mask.sum())
        if k:
            out[mask] = _zipf_draw(rng, k, ids, pools.surname_cum[g])
    return out


def draw_group(rng: np.random.Generator, city: I32) -> I32:
    """Ethnic group from the city's mix."""
    cum = geography().mix_cum[city]
    above = (rng.random(len(city))[:, None] >= cum).sum(axis=1)
    out: I32 = above.clip(0, len(GROUPS) - 1).astype(np.int32)
    return out


_ITIN_GROUPS = np.asarray([*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)], dtype=np.int64)


def _raw_tins(rng: np.random.Generator, itin: B) -> I64:
    n = len(itin)
    area = rng.integers(1, 899, n)
    area = np.where(area >= 666, area + 1, area)  # skip 666; 1..899 without it
    ssn = area * 1_000_000 + rng.integers(1, 100, n) * 10_000 + rng.integers(1, 10_000, n)
    itn = (
        rng.integers(900, 1000, n) * 1_000_000
        + _ITIN_GROUPS[rng.integers(0, len(_ITIN_GROUPS), n)] * 10_000
        + rng.integers(0, 10_000, n)
    )
    return np.where(itin, itn, ssn).astype(np.int64)


def unique_tins(rng: np.random.Generator, itin: B, taken: I64 | None = None) -> I64:
    """Valid SSNs (or ITINs where ``itin``), distinct from each other and from ``taken``."""
    tins = _raw_tins(rng, itin)
    prior = taken if taken is not None else np.zeros(0, dtype=np.int64)
    for _ in range(100):
        both = np.concatenate([prior, tins])
        first = pl.Series(both).is_first_distinct().to_numpy()[len(prior) :]
        if first.all():
            break
        bad = ~first
        tins[bad] = _raw_tins(rng, itin[bad])
    return tins


def _household_types(rng: np.random.Generator, h: int) -> tuple[I32, I32, I32]:
    t: I32 = np.searchsorted(np.cumsum(_TYPE_P) / _TYPE_P.sum(), rng.random(h), side="right").astype(np.int32)
    kids = rng.binomial(3, 0.35, h)
    ngp = 1 + (rng.random(h) < 0.5)
    size = np.select(
        [t == SINGLE, t == COUPLE, t == FAMILY, t == SINGLE_PARENT, t == MULTIGEN,
         t == TWINS_HOME, t == JUNIOR_HOME, t == ROOMMATES, t == TWINS_ALONE],
        [1, 2, 3 + kids, 2 + rng.binomial(3, 0.3, h), 2 + ngp + rng.binomial(3, 0.4, h),
         4 + rng.binomial(2, 0.3, h), 3 + rng.binomial(2, 0.3, h), 2 + (rng.random(h) < 0.4),
         2],
    ).astype(np.int32)  # fmt: skip
    return t, size, ngp.astype(np.int32)


def make_people(rng: np.random.Generator, persons: int, extra_addresses: int) -> tuple[People, Addresses]:
    """Households with exactly ``persons`` filers, and the address table they live in.

    ``extra_addresses`` more addresses are added at the end of the table (ids
    ``len - extra_addresses`` onward), lived in by nobody on file: the requests need them.
    """
    h = int(persons / 1.9) + 200
    t, size, ngp = _household_types(rng, h)
    hh_city = draw_cities(rng, h)
    hh_group = draw_group(rng, hh_city)
    u = rng.random(h)
    head_age = np.select(
        [t == SINGLE, t == COUPLE, t == FAMILY, t == SINGLE_PARENT, t == MULTIGEN,
         t == TWINS_HOME, t == JUNIOR_HOME, t == ROOMMATES],
        [18 + 72 * rng.beta(1.5, 2.0, h), 20 + 70 * rng.beta(1.8, 1.8, h), 25 + 30 * u,
         22 + 33 * u, 28 + 27 * u, 40 + 25 * u, 40 + 30 * u, 20 + 20 * u],
        default=18 + 45 * u,
    )  # fmt: skip
    twin_age = np.where(t == TWINS_HOME, 18 + rng.random(h) * (np.minimum(head_age - 20, 35) - 18), head_age)
    max_gap = np.minimum(34.95, head_age - 18.05)
    gap = 20.05 + rng.random(h) * (max_gap - 20.05)
    similar_twins = rng.random(h) < 0.3
    twin_same_middle = rng.random(h) < 0.3
    twin_b_nonfiler = rng.random(h) < 0.08

    # members
    m = int(size.sum())
    mhh = np.repeat(np.arange(h, dtype=np.int32), size)
    start = np.cumsum(size) - size
    k = (np.arange(m) - start[mhh]).astype(np.int32)
    mt = t[mhh]
    role = np.select(
        [mt == ROOMMATES, mt == TWINS_ALONE, k == 0,
         (k == 1) & (mt != SINGLE_PARENT),
         (mt == MULTIGEN) & (k < 2 + ngp[mhh]),
         (mt == TWINS_HOME) & (k < 4),
         (mt == JUNIOR_HOME) & (k == 2)],
        [ROOMMATE, TWIN, HEAD, SPOUSE, GRANDPARENT, TWIN, JUNIOR],
        default=CHILD,
    ).astype(np.int32)  # fmt: skip

    head_sex = np.where(
        t == JUNIOR_HOME, MALE, np.where(t == SINGLE_PARENT, (rng.random(h) < 0.8), rng.random(h) < 0.4)
    ).astype(np.int32)
    sex = (rng.random(m) < 0.5).astype(np.int32)
    sex = np.where(role == HEAD, head_sex[mhh], sex)
    sex = np.where(role == SPOUSE, np.where(rng.random(m) < 0.96, 1 - head_sex[mhh], head_sex[mhh]), sex)
    sex = np.where((role == GRANDPARENT) & (k == 2) & (ngp[mhh] == 2), MALE, sex)
    sex = np.where((role == GRANDPARENT) & (k == 3), FEMALE, sex)
    sex = np.where(role == JUNIOR, MALE, sex).astype(np.int32)

    member_city = hh_city[mhh]
    group = hh_group[mhh].copy()
    own_group = draw_group(rng, member_city)
    mixed = (role == ROOMMATE) | ((role == SPOUSE) & (rng.random(m) < 0.08))
    group = np.where(mixed, own_group, group).astype(np.int32)

    ha = head_age[mhh]
    ru = rng.random(m)
    age = np.select(
        [role == HEAD, role == SPOUSE, role == GRANDPARENT, role == TWIN, role == ROOMMATE],
        [ha, np.clip(ha + rng.normal(0, 3, m), 18, 95), np.clip(ha + 20 + 12 * ru, 40, 99),
         twin_age[mhh], np.clip(ha + rng.normal(0, 4, m), 18, 60)],
        default=ru * np.clip(np.minimum(ha - 18, 34), 0, None),
    )  # fmt: skip
    dob = (REF_DAY - age * YEAR_DAYS - rng.integers(0, 30, m)).astype(np.int32)
    head_idx = start[mhh]
    # twins: one birthday; junior: the father's birthday plus 20-35 years
    twin_first = start[mhh] + np.where(mt == TWINS_HOME, 2, 0)
    dob = np.where(role == TWIN, dob[twin_first], dob)
    dob = np.where(role == JUNIOR, dob[head_idx] + (gap[mhh] * YEAR_DAYS).astype(np.int32), dob)
    dob = dob.astype(np.int32)

    # surnames
    pools = name_pools()
    hisp = hh_group == HISPANIC
    hh_sur1 = draw_surname(rng, hh_group)
    hh_double = hisp & (rng.random(h) < 0.45) & (t != JUNIOR_HOME)
    hh_sur2 = np.where(hh_double, draw_surname(rng, hh_group), -1)
    sp_keep = rng.random(h) < np.where(hisp, 0.6, 0.2)
    sp_sur1 = draw_surname(rng, hh_group)
    sp_sur2 = np.where(hisp & (rng.random(h) < 0.45), draw_surname(rng, hh_group), -1)
    ch_sur2 = np.where(hisp & sp_keep & (rng.random(h) < 0.6), sp_sur1, -1)
    ch_sur2 = np.where(t == SINGLE_PARENT, -1, ch_sur2)
    own_sur1 = draw_surname(rng, group)
    own_sur2 = np.where((group == HISPANIC) & (rng.random(m) < 0.45), draw_surname(rng, group), -1)
    gp_keep = rng.random(m) < np.where(group == HISPANIC, 0.8, 0.5)
    sur1 = np.select(
        [role == ROOMMATE, (role == SPOUSE) & (sp_keep[mhh] | mixed),
         (role == GRANDPARENT) & (k == 3) & gp_keep],
        [own_sur1, np.where(mixed, own_sur1, sp_sur1[mhh]), own_sur1],
        default=hh_sur1[mhh],
    ).astype(np.int32)  # fmt: skip
    sur2 = np.select(
        [role == ROOMMATE, (role == SPOUSE) & (sp_keep[mhh] | mixed),
         (role == SPOUSE), (role == CHILD) | (role == TWIN),
         (role == GRANDPARENT) & (k == 2), role == GRANDPARENT],
        [own_sur2, np.where(mixed, own_sur2, sp_sur2[mhh]), -1, ch_sur2[mhh], own_sur2,
         np.where(gp_keep, own_sur2, -1)],
        default=hh_sur2[mhh],
    ).astype(np.int32)  # fmt: skip

    # given names: distinct within a household, nicknames counted as the same name
    first = draw_first(rng, group, sex)
    twin_a = (role == TWIN) & (k == np.where(mt == TWINS_HOME, 2, 0))
    twin_b = (role == TWIN) & ~twin_a
    for (sa, sb), pairs in TWIN_PAIRS.items():
        for swap in (False, True) if sa != sb else (False,):
            xa, xb = (sb, sa) if swap else (sa, sb)
            sel_a = twin_a & similar_twins[mhh] & (sex == xa) & (np.roll(sex, -1) == xb)
            idx_a = np.flatnonzero(sel_a)
            pick = rng.integers(0, len(pairs), len(idx_a))
            names_a = np.asarray([pools.first_index[pairs[p][1 if swap else 0]] for p in pick])
            names_b = np.asarray([pools.first_index[pairs[p][0 if swap else 1]] for p in pick])
            if len(idx_a):
                first[idx_a] = names_a
                first[idx_a + 1] = names_b
    protected = np.where((role == TWIN) & similar_twins[mhh], 0, 1)
    for _ in range(8):
        key = pools.nickname_group[first]
        order = np.lexsort((protected, key, mhh))
        same = (mhh[order][1:] == mhh[order][:-1]) & (key[order][1:] == key[order][:-1])
        dup = np.zeros(m, dtype=np.bool_)
        dup[order[1:][same]] = True
        dup &= role != JUNIOR
        if not dup.any():
            break
        first[dup] = draw_first(rng, group[dup], sex[dup])
    first = np.where(role == JUNIOR, first[head_idx], first).astype(np.int32)

    middle_group = np.where(np.isin(group, [ASIAN, VIETNAMESE]) & (rng.random(m) < 0.5), 0, group).astype(
        np.int32
    )
    middle = draw_first(rng, middle_group, sex)
    has_middle = rng.random(m) < np.where(pools.compound_first[first], 0.2, 0.72)
    middle = np.where(has_middle & (middle != first) & ~pools.compound_first[middle], middle, -1)
    middle = np.where(twin_b & twin_same_middle[mhh], middle[np.arange(m) - 1], middle)
    middle = np.where(role == JUNIOR, middle[head_idx], middle).astype(np.int32)

    itin = rng.random(m) < _ITIN_P[group]
    tin = unique_tins(rng, itin)

    age_now = (REF_DAY - dob) / YEAR_DAYS
    p_file = np.select([age_now >= 18, age_now >= 16], [np.where(role == GRANDPARENT, 0.85, 0.93), 0.25], 0.0)
    filer = rng.random(m) < p_file
    forced = (role == JUNIOR) | ((role == HEAD) & (mt == JUNIOR_HOME)) | (role == TWIN)
    filer = (filer | forced) & ~(twin_b & twin_b_nonfiler[mhh] & (mt == TWINS_HOME))

    # keep households until exactly `persons` filers
    cum = np.cumsum(filer)
    if cum[-1] < persons:  # pragma: no cover - the oversampling makes this unreachable
        raise RuntimeError("household oversampling fell short")
    last = int(np.searchsorted(cum, persons))
    keep_h = int(mhh[last]) + 1
    keep_m = int(start[keep_h - 1] + size[keep_h - 1])
    filer = filer[:keep_m].copy()
    filer[last + 1 :] = False

    m, h = keep_m, keep_h
    mhh, k, role, sex, group = mhh[:m], k[:m], role[:m], sex[:m], group[:m]
    first, middle, sur1, sur2, dob = first[:m], middle[:m], sur1[:m], sur2[:m], dob[:m]
    tin, itin, age_now = tin[:m], itin[:m], age_now[:m]
    t, hh_city = t[:h], hh_city[:h]
    mt = t[mhh]

    twin = np.full(m, -1, dtype=np.int32)
    ia = np.flatnonzero(twin_a[:m])
    ia = ia[ia + 1 < m]
    twin[ia] = ia + 1
    twin[ia + 1] = ia
    namesake = np.full(m, -1, dtype=np.int32)
    ij = np.flatnonzero(role == JUNIOR)
    namesake[ij] = start[mhh[ij]]
    namesake[start[mhh[ij]]] = ij

    # addresses: the household's current one, earlier ones for movers, own ones for leavers
    mover = rng.random(h) < 0.22
    two_moves = mover & (rng.random(h) < 0.2)
    hm1 = np.where(mover, np.where(two_moves, rng.integers(2023, 2025, h), rng.integers(2022, 2025, h)), 0)
    hm2 = np.where(two_moves, hm1 - 1 - (rng.random(h) < 0.5) * (hm1 == 2024), 0)
    leave_p = np.select([role == JUNIOR, role == TWIN, role == CHILD], [0.35, 0.15, 0.3], 0.0)
    leaver = (rng.random(m) < leave_p) & filer & (age_now >= 19) & (age_now <= 40) & ~mover[mhh]
    n_prev, n_prev2, n_leave = int(mover.sum()), int(two_moves.sum()), int(leaver.sum())

    def elsewhere(base: I32, p_same: float) -> I32:
        return np.where(rng.random(len(base)) < p_same, base, draw_cities(rng, len(base))).astype(np.int32)

    cities = np.concatenate(
        [
            hh_city,
            elsewhere(hh_city[mover], 0.7),
            elsewhere(hh_city[two_moves], 0.7),
            elsewhere(hh_city[mhh[leaver]], 0.6),
            draw_cities(rng, extra_addresses),
        ]
    )
    pobox = rng.random(len(cities)) < np.concatenate(
        [np.full(h, 0.03), np.full(n_prev + n_prev2, 0.01), np.full(n_leave, 0.02),
         np.full(extra_addresses, 0.02)]
    )  # fmt: skip
    addresses = make_addresses(rng, cities, pobox)
    prev_id = np.full(h, -1, dtype=np.int32)
    prev_id[mover] = h + np.arange(n_prev)
    prev2_id = np.full(h, -1, dtype=np.int32)
    prev2_id[two_moves] = h + n_prev + np.arange(n_prev2)
    a0 = mhh.astype(np.int32).copy()
    a1 = prev_id[mhh].copy()
    a2 = prev2_id[mhh].copy()
    m1 = hm1[mhh].astype(np.int32)
    m2 = hm2[mhh].astype(np.int32)
    li = np.flatnonzero(leaver)
    a1[li] = a0[li]
    a0[li] = h + n_prev + n_prev2 + np.arange(n_leave)
    a2[li] = -1
    m1[li] = rng.integers(2022, 2025, n_leave)
    m2[li] = 0

    people = People(
        hh=mhh.astype(np.int32), hh_type=mt.astype(np.int32), role=role, sex=sex, group=group,
        first=first, middle=middle, sur1=sur1, sur2=sur2, dob=dob, tin=tin, itin=itin,
        filer=filer, twin=twin, namesake=namesake, leaver=leaver,
        accent_keep=rng.random(m) < 0.6, a0=a0, a1=a1, a2=a2, m1=m1, m2=m2,
    )  # fmt: skip
    _inject_namesakes(rng, people, addresses.city[a0], persons)
    return people, addresses


def _inject_namesakes(rng: np.random.Generator, p: People, city: I32, persons: int) -> None:
    """Give some people living alone the name of another filer in their city, half of them
    born the same year: namesakes that only the address (or dob, or TIN) tells apart."""
    singles = np.flatnonzero((p.hh_type == 0) & p.filer & (p.twin < 0) & (p.namesake < 0))
    n = min(len(singles), int(persons * 0.015) + 1)
    if n == 0:
        return
    chosen = rng.choice(singles, n, replace=False)
    filers = np.flatnonzero(p.filer)
    order = filers[np.argsort(city[filers], kind="stable")]
    counts = np.bincount(city[order], minlength=int(city.max()) + 1)
    starts = np.cumsum(counts) - counts
    c = city[chosen]
    model = order[starts[c] + (rng.random(n) * counts[c]).astype(np.int64)]
    ok = (model != chosen) & (p.sex[model] == p.sex[chosen])
    chosen, model = chosen[ok], model[ok]
    p.first[chosen] = p.first[model]
    p.sur1[chosen] = p.sur1[model]
    p.sur2[chosen] = p.sur2[model]
    same_year = rng.random(len(chosen)) < 0.5
    year_start = (
        (p.dob[model].astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]"))
        .astype(np.int64)
        .astype(np.int32)
    )
    new_dob = year_start + rng.integers(0, 365, len(chosen)).astype(np.int32)
    new_dob = np.where(new_dob == p.dob[model], new_dob + 1, new_dob)
    p.dob[chosen] = np.where(same_year, new_dob, p.dob[chosen])


def make_master(rng: np.random.Generator, p: People) -> Master:
    """Which years each filer filed, and the address on each row."""
    filers = np.flatnonzero(p.filer).astype(np.int32)
    n = len(filers)
    rate = np.asarray([1.0, 0.75, 0.5])[np.searchsorted([0.5, 0.8], rng.random(n), side="right")]
    years = np.asarray(TAX_YEARS, dtype=np.int32)
    birth_year = p.dob[filers].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int32) + 1970
    grid = (rng.random((n, len(years))) < rate[:, None]) & (years[None, :] - birth_year[:, None] >= 16)
    grid[~grid.any(axis=1), -1] = True
    row_f, row_y = np.nonzero(grid)
    person = filers[row_f]
    year = years[row_y]
    m1, m2 = p.m1[person], p.m2[person]
    addr = np.where(
        year >= m1, p.a0[person], np.where((p.a2[person] < 0) | (year >= m2), p.a1[person], p.a2[person])
    ).astype(np.int32)
    # the row of the latest year comes last for each person (np.nonzero is row-major)
    last = np.r_[row_f[1:] != row_f[:-1], True]
    rec = np.full(len(p), -1, dtype=np.int32)
    rec[person[last]] = addr[last]
    pairs = pl.DataFrame({"a": addr, "p": person}).unique().sort(["a", "p"])
    return Master(
        person=person.astype(np.int32),
        year=year,
        addr=addr,
        rec_addr=rec,
        pairs_addr=pairs["a"].to_numpy().astype(np.int32),
        pairs_person=pairs["p"].to_numpy().astype(np.int32),
    )


def render_master(rng: np.random.Generator, p: People, a: Addresses, master: Master) -> pl.DataFrame:
    """The master file, in contract columns, rows shuffled."""
    pools = name_pools()
    geo = geography()
    person = master.person.astype(np.int64)
    n = len(person)
    keep = p.accent_keep[person]

    def names(table: tuple[str, ...], plain: tuple[str, ...], ids: I32) -> pl.Series:
        full = pl.Series([*table, None], dtype=pl.String)
        bare = pl.Series([*plain, None], dtype=pl.String)
        safe = np.where(ids < 0, len(table), ids).astype(np.int64)
        return pl.select(
            pl.when(pl.lit(pl.Series(keep))).then(pl.lit(full.gather(safe)))
            .otherwise(pl.lit(bare.gather(safe)))
        ).to_series()  # fmt: skip

    middle_form = rng.random(n)
    last_form = rng.random(n)
    suffix_u = rng.random(n)
    role = p.role[person]
    is_junior = role == JUNIOR
    is_senior = p.namesake[person] >= 0
    frame = pl.DataFrame(
        {
            "tin": p.tin[person],
            "first": names(pools.first, pools.first_plain, p.first[person]),
            "middle": names(pools.first, pools.first_plain, p.middle[person]),
            "s1": names(pools.surnames, pools.surnames_plain, p.sur1[person]),
            "s2": names(pools.surnames, pools.surnames_plain, p.sur2[person]),
            "dob": p.dob[person],
            "street": render_master_streets(a, master.addr.astype(np.int64), rng),
            "city": pl.Series(geo.city).gather(a.city[master.addr].astype(np.int64)),
            "state": pl.Series(geo.state).gather(a.city[master.addr].astype(np.int64)),
            "zip": render_master_zips(a, master.addr.astype(np.int64), rng),
            "tax_year": master.year,
            "mform": middle_form,
            "lform": last_form,
            "sfx": np.where(
                is_junior & (suffix_u < 0.15), 1, np.where(is_senior & ~is_junior & (suffix_u < 0.05), 2, 0)
            ),
            "blank_dob": rng.random(n) < 0.015,
            "upper": rng.random(n) < 0.1,
        }
    )
    last = (
        pl.when(pl.col("s2").is_null() | (pl.col("lform") >= 0.9))
        .then(pl.col("s1"))
        .when(pl.col("lform") < 0.75)
        .then(pl.col("s1") + " " + pl.col("s2"))
        .otherwise(pl.col("s1") + "-" + pl.col("s2"))
    )
    last = (
        pl.when(pl.col("sfx") == 1)
        .then(last + " Jr")
        .when(pl.col("sfx") == 2)
        .then(last + " Sr")
        .otherwise(last)
    )
    middle = (
        pl.when(pl.col("mform") < 0.12)
        .then(None)
        .when(pl.col("mform") < 0.2)
        .then(pl.col("middle").str.slice(0, 1))
        .otherwise(pl.col("middle"))
    )

    def cased(e: pl.Expr) -> pl.Expr:
        return pl.when(pl.col("upper")).then(e.str.to_uppercase()).otherwise(e)

    out = frame.select(
        pl.col("tin").cast(pl.String).str.zfill(9).alias("tin"),
        cased(pl.col("first")).alias("first_name"),
        cased(middle).alias("middle_name"),
        cased(last).alias("last_name"),
        pl.when(pl.col("blank_dob")).then(None).otherwise(pl.col("dob")).cast(pl.Date).alias("dob"),
        cased(pl.col("street")).alias("street"),
        cased(pl.col("city")).alias("city"),
        pl.col("state"),
        pl.col("zip"),
        pl.col("tax_year").cast(pl.Int32),
    )
    return out[rng.permutation(n)]


@dataclass
class Strangers:
    """People on no master row and in no household: the ``not_in_master`` subjects."""

    city: I32
    sex: I32
    first: I32
    middle: I32
    sur1: I32
    sur2: I32
    dob: I32
    tin: I64


def make_strangers(rng: np.random.Generator, n: int, taken: I64) -> Strangers:
    """``n`` adults drawn from the same pools as the households, with fresh TINs."""
    city = draw_cities(rng, n)
    group = draw_group(rng, city)
    sex = (rng.random(n) < 0.5).astype(np.int32)
    pools = name_pools()
    first = draw_first(rng, group, sex)
    middle = draw_first(rng, group, sex)
    middle = np.where(
        (rng.random(n) < 0.7) & (middle != first) & ~pools.compound_first[middle], middle, -1
    ).astype(np.int32)
    sur1 = draw_surname(rng, group)
    sur2 = np.where((group == HISPANIC) & (rng.random(n) < 0.45), draw_surname(rng, group), -1).astype(
        np.int32
    )
    age = 18 + 62 * rng.beta(1.6, 2.2, n)
    dob = (REF_DAY - age * YEAR_DAYS).astype(np.int32)
    itin = rng.random(n) < _ITIN_P[group]
    tin = unique_tins(rng, itin, taken)
    return Strangers(city, sex, first, middle, sur1, sur2, dob, tin)
