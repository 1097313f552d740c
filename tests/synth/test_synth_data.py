"""Properties of the generated master file, requests and truth: the hard cases are really there."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date

import polars as pl
import pytest

from custodes.synth.places import PO_BOX, canonical_street, looks_deliverable
from custodes.synth.pools import PLACEHOLDER_STREETS, SUFFIXES, strip_accents
from custodes.synth.text import read_dob

SSN = re.compile(r"^(?!000|666|9)\d{3}(?!00)\d{2}(?!0000)\d{4}$")
ITIN = re.compile(r"^9\d{2}(?:5\d|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])\d{4}$")
_SUFFIX_TOKENS = {s[1].upper() for s in SUFFIXES}
_PLACEHOLDERS = {p.upper() for p in PLACEHOLDER_STREETS}


def placeholder(street: str) -> bool:
    """Not a house number + street nor a numbered PO Box, or a known fake ('123 Fake St')."""
    return not looks_deliverable(street) or street.upper() in _PLACEHOLDERS


def norm(text: str | None) -> str:
    """Upper-case ASCII letters and spaces, without Jr/Sr."""
    t = re.sub(r"[^A-Z]+", " ", strip_accents(text or "").upper().replace("'", ""))
    return " ".join(w for w in t.split() if w not in {"JR", "SR", "II"})


def street_key(street: str | None) -> str:
    """The street line up to spelling (suffixes dropped: requests sometimes omit them)."""
    return " ".join(t for t in canonical_street(street or "").split() if t not in _SUFFIX_TOKENS)


def tin_digits(tin: str | None) -> str:
    return (tin or "").replace("-", "").replace(" ", "")


@pytest.fixture(scope="module")
def people(master: pl.DataFrame) -> dict[str, dict[str, object]]:
    """Per TIN: name, dob, latest street key, all street keys (previous ones separately)."""
    streets = master.select(pl.col("street").unique())
    streets = streets.with_columns(
        pl.col("street").map_elements(street_key, return_dtype=pl.String).alias("key")
    )
    per_tin = (
        master.sort("tax_year")
        .join(streets, on="street", how="left")
        .group_by("tin", maintain_order=True)
        .agg(
            pl.col("key"),
            pl.col("first_name"),
            pl.col("last_name"),
            pl.col("middle_name").drop_nulls().alias("middles"),
            pl.col("dob").drop_nulls().first(),
            pl.col("city").last(),
        )
    )
    out: dict[str, dict[str, object]] = {}
    for row in per_tin.iter_rows(named=True):
        keys, firsts, lasts = row["key"], row["first_name"], row["last_name"]
        surname = norm(lasts[-1]).split()
        out[row["tin"]] = {
            "first": norm(firsts[-1]),
            "middle": max((norm(m) for m in row["middles"]), key=len, default=""),
            "sur": surname[0] if surname else "",
            "dob": row["dob"],
            "city": norm(row["city"]),
            "current": keys[-1],
            "previous": {k for k in keys[:-1] if k != keys[-1]},
            "raw_first": firsts[-1],
            "raw_last": lasts[-1],
            "names": {f"{f} {n}".upper() for f, n in zip(firsts, lasts, strict=True)},
        }
    return out


@pytest.fixture(scope="module")
def at_address(people: dict[str, dict[str, object]]) -> dict[str, list[str]]:
    """Latest street key -> TINs whose address of record it is."""
    index: dict[str, list[str]] = defaultdict(list)
    for tin, p in people.items():
        index[str(p["current"])].append(tin)
    return index


def rows_of(joined: pl.DataFrame, category: str) -> list[dict[str, str | None]]:
    return joined.filter(pl.col("category") == category).to_dicts()


# ---- master ----------------------------------------------------------------------------------


def test_tins_are_valid_ssns_or_itins(master: pl.DataFrame, people: dict[str, dict[str, object]]) -> None:
    tins = pl.Series(list(people))
    assert tins.map_elements(lambda t: bool(SSN.match(t) or ITIN.match(t)), return_dtype=pl.Boolean).all()
    itin_share = tins.str.starts_with("9").sum() / len(tins)
    assert 0.02 < itin_share < 0.09
    assert master.select(pl.struct("tin", "tax_year").is_unique().all()).item()


def test_about_three_rows_per_person_over_four_tax_years(master: pl.DataFrame) -> None:
    assert 2.5 < master.height / master["tin"].n_unique() < 3.6
    assert set(master["tax_year"].unique().to_list()) == {2021, 2022, 2023, 2024}


def test_master_has_blanks_and_every_zip_and_unit_spelling(master: pl.DataFrame) -> None:
    assert master["middle_name"].null_count() / master.height > 0.05
    assert 0.005 < master["dob"].null_count() / master.height < 0.03
    zips = master["zip"]
    assert zips.str.contains(r"^\d{5}(?:-\d{4}|\d{4})?$").all()
    assert zips.str.contains(r"^\d{5}$").any()
    assert zips.str.contains(r"^\d{5}-\d{4}$").any()
    assert zips.str.contains(r"^\d{9}$").any()
    streets = master["street"].str.to_uppercase()
    for unit in (r" APT \w", r" #\w", r" UNIT \w", r" STE \w", r" APARTMENT \w", r"^P\.?O\.? BOX \d"):
        assert streets.str.contains(unit).any(), unit


def test_one_address_is_spelled_differently_across_years(master: pl.DataFrame) -> None:
    keyed = master.with_columns(
        pl.col("street").map_elements(canonical_street, return_dtype=pl.String).alias("key"),
        pl.col("zip").str.slice(0, 5).alias("zip5"),
    )
    spellings = keyed.group_by("tin", "key").agg(
        pl.col("street").str.to_uppercase().n_unique().alias("n"), pl.col("zip5").n_unique().alias("z")
    )
    assert spellings.filter(pl.col("n") > 1).height > 500, "Avenue/Ave, North/N across years"
    assert (spellings["z"] == 1).all(), "one address keeps one ZIP"
    movers = spellings.group_by("tin").len().filter(pl.col("len") > 1).height
    assert movers / master["tin"].n_unique() > 0.05


# ---- requests --------------------------------------------------------------------------------


def test_streets_are_deliverable_unless_refused_for_the_address(joined: pl.DataFrame) -> None:
    for row in joined.to_dicts():
        street = row["street"]
        if row["category"] == "placeholder_address":
            assert street, row
            assert placeholder(street), street
        elif row["category"] == "missing_address":
            assert street is None
        else:
            assert street, row
            assert not placeholder(street), (row["category"], street)


def test_placeholders_come_in_many_forms(joined: pl.DataFrame, people: dict[str, dict[str, object]]) -> None:
    rows = rows_of(joined, "placeholder_address")
    tags = {t for r in rows for t in str(r["tags"]).split(";")}
    assert {"ph_listed", "ph_zip", "ph_random_words", "ph_no_house_number"} <= tags
    assert len({r["street"] for r in rows}) > 40
    correct = [r for r in rows if "correct_tin" in str(r["tags"])]
    assert correct
    assert all(tin_digits(r["tin"]) in people for r in correct)


def test_each_refused_row_has_exactly_one_defect(joined: pl.DataFrame) -> None:
    def name_ok(r: dict[str, str | None]) -> bool:
        unknown = {"FNU", "LNU", "UNKNOWN"}
        return all(r[c] and norm(r[c]) not in unknown for c in ("first_name", "last_name"))

    def tin_ok(r: dict[str, str | None]) -> bool:
        return r["tin"] is None or bool(SSN.match(tin_digits(r["tin"])) or ITIN.match(tin_digits(r["tin"])))

    def address_ok(r: dict[str, str | None]) -> bool:
        return r["street"] is None or not placeholder(r["street"])

    checks = {"missing_name": name_ok, "invalid_tin": tin_ok, "placeholder_address": address_ok}
    checks["missing_address"] = lambda r: r["street"] is not None
    for r in joined.to_dicts():
        failing = {reason for reason, ok in checks.items() if not ok(r)}
        if r["expected_outcome"] == "refused":
            assert failing == {r["expected_reason"]}, r
        else:
            assert not failing, r


def test_invalid_tins_are_malformed_not_mistyped(joined: pl.DataFrame) -> None:
    for r in rows_of(joined, "invalid_tin"):
        digits = tin_digits(r["tin"])
        assert not (len(digits) == 9 and digits.isdigit()), r["tin"]
    typos = [r for r in rows_of(joined, "typo") if "typo_tin" in str(r["tags"])]
    assert typos
    for r in typos:
        digits = tin_digits(r["tin"])
        assert len(digits) == 9
        assert digits != r["true_tin"]


def test_tins_present_in_about_forty_percent_with_and_without_dashes(requests: pl.DataFrame) -> None:
    share = requests["tin"].is_not_null().sum() / requests.height
    assert 0.3 < share < 0.5
    assert requests["tin"].str.contains("-").any()
    assert requests["tin"].str.contains(r"^\d{9}$").any()


# ---- truth -----------------------------------------------------------------------------------


def test_truth_outcomes_follow_categories(truth: pl.DataFrame) -> None:
    refused = {"placeholder_address", "missing_address", "invalid_tin", "missing_name"}
    for r in truth.to_dicts():
        if r["category"] in refused:
            assert (r["expected_outcome"], r["expected_reason"]) == ("refused", r["category"])
        elif r["category"] in {"out_of_master", "not_in_master"}:
            assert r["expected_outcome"] == "no_match"
        else:
            assert r["expected_outcome"] == "match"
        if r["expected_outcome"] == "match":
            assert r["tin"]
            assert r["address_status"] in {"current", "previous", "not_on_file"}
            assert r["expected_reason"] is None
        else:
            assert r["tin"] is None
            assert r["address_status"] is None
        assert str(r["tags"]).split(";")[0] == r["category"]


def test_match_rows_point_at_the_right_address(
    joined: pl.DataFrame, people: dict[str, dict[str, object]]
) -> None:
    statuses: dict[str, int] = defaultdict(int)
    for r in joined.filter(pl.col("expected_outcome") == "match").to_dicts():
        p = people[str(r["true_tin"])]
        statuses[str(r["address_status"])] += 1
        if "typo_street_number" in str(r["tags"]):
            continue
        key = street_key(r["street"])
        if r["address_status"] == "current":
            assert key == p["current"], (r["street"], p["current"])
        elif r["address_status"] == "previous":
            assert key in p["previous"], (r["street"], p)  # type: ignore[operator]
            assert key != p["current"]
        else:
            assert key != p["current"]
            assert key not in p["previous"]  # type: ignore[operator]
    assert statuses["previous"] > 100
    assert statuses["not_on_file"] > 50


def test_twins_share_dob_surname_and_usually_the_address(
    joined: pl.DataFrame, people: dict[str, dict[str, object]]
) -> None:
    by_dob: dict[object, list[str]] = defaultdict(list)
    for tin, p in people.items():
        by_dob[p["dob"]].append(tin)
    rows = rows_of(joined, "twin")
    together = 0
    for r in rows:
        me = people[str(r["true_tin"])]
        sibs = [people[t] for t in by_dob[me["dob"]] if t != r["true_tin"] and people[t]["sur"] == me["sur"]]
        assert sibs, r
        assert all(s["first"] != me["first"] for s in sibs)
        together += any(s["current"] == me["current"] for s in sibs)
    assert together / len(rows) > 0.7
    tags = " ".join(str(r["tags"]) for r in rows)
    assert "same_middle" in tags
    assert "similar_names" in tags


def test_jr_sr_share_the_full_name_with_dobs_20_to_35_years_apart(
    joined: pl.DataFrame, people: dict[str, dict[str, object]]
) -> None:
    by_name: dict[tuple[object, object], list[str]] = defaultdict(list)
    for tin, p in people.items():
        by_name[(p["first"], p["sur"])].append(tin)
    rows = rows_of(joined, "jr_sr")
    for r in rows:
        me = people[str(r["true_tin"])]
        mine = me["dob"]
        assert isinstance(mine, date)
        others = [
            people[t]
            for t in by_name[(me["first"], me["sur"])]
            if t != r["true_tin"] and isinstance(people[t]["dob"], date)
            and 20 * 365 <= abs((people[t]["dob"] - mine).days) <= 35 * 366  # type: ignore[operator]
            and (not people[t]["middle"] or not me["middle"]
                 or str(people[t]["middle"])[:1] == str(me["middle"])[:1])
        ]  # fmt: skip
        assert others, r
    tags = [str(r["tags"]) for r in rows]
    assert sum("shared_address" in t for t in tags) / len(rows) > 0.5
    assert any("suffix" in t for t in tags)
    assert any("dob_blank" in t for t in tags)


def test_namesakes_share_first_and_last_name_in_the_city(
    joined: pl.DataFrame, people: dict[str, dict[str, object]]
) -> None:
    count: dict[tuple[object, ...], int] = defaultdict(int)
    for p in people.values():
        count[(p["first"], norm(str(p["raw_last"])), p["city"])] += 1
    rows = rows_of(joined, "namesake")
    for r in rows:
        p = people[str(r["true_tin"])]
        assert count[(p["first"], norm(str(p["raw_last"])), p["city"])] >= 2 or "two_surnames" in str(
            r["tags"]
        ), r
    assert any("same_birth_year" in str(r["tags"]) for r in rows)


def test_out_of_master_asks_for_an_unfiled_relative_at_a_filers_address(
    joined: pl.DataFrame, people: dict[str, dict[str, object]], at_address: dict[str, list[str]]
) -> None:
    rows = rows_of(joined, "out_of_master")
    for r in rows:
        residents = [people[t] for t in at_address[street_key(r["street"])]]
        surname = norm(r["last_name"]).split()[0]
        assert any(p["sur"] == surname for p in residents), r
        assert all(p["first"] != norm(r["first_name"]) for p in residents), r
        assert r["tin"] is None or tin_digits(r["tin"]) not in people
    assert any("nonfiler_twin" in str(r["tags"]) for r in rows)


def test_strangers_are_not_on_file(joined: pl.DataFrame, people: dict[str, dict[str, object]]) -> None:
    rows = rows_of(joined, "not_in_master")
    assert all(r["tin"] is None or tin_digits(r["tin"]) not in people for r in rows)
    tags = " ".join(str(r["tags"]) for r in rows)
    assert "address_on_file" in tags
    assert "namesake_on_file" in tags


def test_nicknames_accents_and_surname_forms(
    joined: pl.DataFrame, people: dict[str, dict[str, object]]
) -> None:
    for r in rows_of(joined, "nickname"):
        assert norm(r["first_name"]) != people[str(r["true_tin"])]["first"]
    for r in rows_of(joined, "accent"):
        on_file: set[str] = people[str(r["true_tin"])]["names"]  # type: ignore[assignment]
        asked = f"{r['first_name']} {r['last_name']}".upper()
        words = {w for name in on_file for w in norm(name).split()}
        assert set(norm(asked).split()) <= words, (asked, on_file)
        assert asked not in on_file, "the accents differ from every master spelling"
    forms = {t for r in rows_of(joined, "hispanic_surname") for t in str(r["tags"]).split(";")}
    assert len({t for t in forms if t.startswith("hs_")}) >= 8


def test_typos_dobs_and_po_boxes(joined: pl.DataFrame) -> None:
    assert all("typo_" in str(r["tags"]) for r in rows_of(joined, "typo"))
    for r in rows_of(joined, "missing_dob"):
        assert read_dob(r["dob"])[0] is None
    assert any(r["dob"] and "dob_malformed" in str(r["tags"]) for r in rows_of(joined, "missing_dob"))
    assert all(PO_BOX.match(str(r["street"])) for r in rows_of(joined, "po_box"))


def test_info_floor_rows_are_matches_without_distinguishing_evidence(joined: pl.DataFrame) -> None:
    floor = joined.filter(pl.col("info_floor") == "true").to_dicts()
    assert floor, "the generator makes some indistinguishable father/son requests"
    assert len(floor) < 0.05 * joined.height
    for r in floor:
        assert r["expected_outcome"] == "match"
        assert r["tin"] is None
        if r["category"] == "jr_sr":
            assert read_dob(r["dob"]) == (None, None)
            names = f"{r['first_name']} {r['last_name']}".upper()
            assert not re.search(r"\b(JR|SR|II)\b", names)
    assert set(joined["info_floor"].unique().to_list()) == {"true", "false"}
