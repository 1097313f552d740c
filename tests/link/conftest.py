from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from custodes.config import LinkageConfig
from custodes.link import DuckDBLinker, build_index

TODAY = date(2026, 11, 25)

MASTER_ROWS = [
    # tin, first, middle, last, dob, street, city, state, zip, tax_year
    ("123456789", "John", "Q", "Smith", "1960-03-04", "12 Elm Street", "Springfield", "IL", "62701", 2023),
    ("123456789", "John", "Q", "Smith", "1960-03-04", "12 Elm St", "Springfield", "IL", "62701", 2024),
    ("223456789", "John", "Q", "Smith", "1990-07-01", "12 Elm St", "Springfield", "IL", "62701", 2024),
    ("323456789", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Avenue Apt 3", "Peoria", "IL", "61602", 2024),
    ("423456789", "Marta", "", "Kowalski", "2001-05-05", "9 Oak Avenue Apt 3", "Peoria", "IL", "61602", 2024),
    ("523456789", "José", "Luis", "García López", "1975-11-30", "400 North Main Street", "Chicago", "IL", "60601", 2022),
    ("523456789", "José", "Luis", "García López", "1975-11-30", "77 Lake Shore Dr Unit 9", "Chicago", "IL", "60611", 2024),
    ("623456789", "Maria", "", "García", "1978-02-14", "77 Lake Shore Dr Unit 9", "Chicago", "IL", "60611", 2024),
    ("723456789", "William", "", "Baker", "1955-09-09", "PO Box 77", "Urbana", "IL", "61801", 2024),
    ("823456789", "Daniel", "", "Ortiz", "1999-01-02", "5 Birch Ct", "Elgin", "IL", "60120", 2024),
    ("923456781", "Danielle", "", "Ortiz", "1999-01-02", "5 Birch Ct", "Elgin", "IL", "60120", 2024),
    ("133456789", "Paul", "", "Novak", "1980-01-01", "3 Fir St", "Joliet", "IL", "60431", 2024),
    ("143456789", "Toby", "", "Chater", "1944-06-24", "16 Holland St", "Keysborough", "IL", "60412", 2024),
    ("153456789", "Mark", "", "Lindqvist", "1985-06-06", "8 Ash Rd", "Cicero", "IL", "60804", 2024),
    ("163456789", "Jassim", "", "Rybak", "1984-07-06", "16 Newman Morris Cir", "Ormond", "IL", "60500", 2024),
    ("173456789", "Isabel", "", "Godfrey", "1968-05-09", "14 Bellchambers Cres", "Warnbro", "IL", "62039", 2024),
    ("193456789", "Daniela", "", "Andrade", "1968-07-02", "604 Jefferson Ter Apt 3", "Los Angeles", "CA", "90087", 2024),
    ("203456789", "Shane", "", "Pennock", "1970-06-30", "6063 E 5th Ln", "New York", "NY", "10079", 2024),
    ("213456789", "Olga", "", "Semenov", "1973-03-24", "1966 Cedar Dr", "Deerwood", "UT", "84005", 2024),
    ("223456781", "Mary", "", "Kellwell", "1970-11-09", "445 Union Pike E", "Chicago", "IL", "60153", 2024),
    ("233456789", "Bryan", "W", "Oliver", "1957-04-07", "10084 Main Ln", "Nashville", "TN", "37046", 2024),
    ("243456789", "Angel", "Raymond", "Smithers", "2003-03-23", "299 Main St", "Louisville", "KY", "40091", 2024),
    ("183456789", "Barbara", "Mary", "Day", "2004-04-22", "1513 NW Maple Ave", "West Creek", "IL", "60403", 2024),
]  # fmt: skip
COLUMNS = [
    "tin",
    "first_name",
    "middle_name",
    "last_name",
    "dob",
    "street",
    "city",
    "state",
    "zip",
    "tax_year",
]


def filler_rows(n: int) -> list[tuple[object, ...]]:
    """Unrelated taxpayers, so that u-probabilities and EM have something to work on."""
    firsts = ["Ava", "Ben", "Cara", "Dov", "Eli", "Fay", "Gus", "Hal", "Ida", "Jon", "Kim", "Lou"]
    lasts = ["Reyes", "Ng", "Olsen", "Patel", "Quinn", "Rossi", "Sato", "Tran", "Ueda", "Vega"]
    rows = []
    for i in range(n):
        rows.append((
            f"{600000000 + i:09d}", firsts[i % 12], "", f"{lasts[i % 10]}{'x' * (i % 7)}",
            f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}", f"{100 + i} Pine Rd",
            ["Decatur", "Joliet", "Aurora"][i % 3], "IL", f"{61000 + i % 500:05d}", 2024,
        ))  # fmt: skip
    return rows


@pytest.fixture(scope="session")
def index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    master = pl.DataFrame(MASTER_ROWS + filler_rows(3000), schema=COLUMNS, orient="row")
    master = master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year")
    target = tmp_path_factory.mktemp("index") / "master.duckdb"
    build_index(master, target, today=TODAY)
    return target


@pytest.fixture
def linker(index_path: Path) -> DuckDBLinker:
    return DuckDBLinker(index_path, LinkageConfig())


REQUEST_COLUMNS = [
    "rid",
    "first_name",
    "middle_name",
    "last_name",
    "dob",
    "street",
    "city",
    "state",
    "zip",
    "tin",
]


def request_frame(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=REQUEST_COLUMNS, orient="row")
    return frame.with_columns(
        pl.col(c).cast(pl.Utf8).replace("", None) for c in REQUEST_COLUMNS if c != "rid"
    )
