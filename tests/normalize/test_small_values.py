"""The small-frame preparation on Python values equals the frame pipeline, its definition.

``prepare_people`` prepares frames of up to ``SMALL_ROWS`` rows (online groups) on Python
values; these tests hold that path equal to ``prepare_frame`` column for column, dtype for
dtype, on every hard synth category, on the master's own rows, and on random text.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from custodes.link import prepare
from custodes.link.prepare import prepare_frame, prepare_people, prepare_values
from custodes.normalize.dates import dob_digits, dob_values, normalize_dob

TODAY = date(2026, 11, 25)
FIELDS = ("first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip", "tin")


def _equal(frame: pl.DataFrame) -> bool:
    """Whether the value path decided ``frame``; asserts its result equals the frame path's."""
    small = prepare_values(frame, today=TODAY)
    whole = prepare_frame(frame, today=TODAY)
    if small is None:
        return False
    # last_all is a set (list.unique does not promise an order): compare it sorted
    assert_frame_equal(
        small.with_columns(pl.col("last_all").list.sort()), whole.with_columns(pl.col("last_all").list.sort())
    )
    return True


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    from custodes.contract import read_requests
    from custodes.synth import generate

    data = tmp_path_factory.mktemp("synth")
    generate(3000, 1500, 21, data, "csv")
    master = pl.read_csv(data / "master.csv", infer_schema=False)
    return read_requests(data / "requests.csv"), master


def test_every_synth_request_slice_prepares_the_same_on_values(
    synth: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    requests, _ = synth
    decided = 0
    for start in range(0, requests.height, prepare.SMALL_ROWS):
        decided += _equal(requests.slice(start, prepare.SMALL_ROWS))
    slices = -(-requests.height // prepare.SMALL_ROWS)
    # nearly every slice is plain enough for the value path (accents in an address send one back)
    assert decided >= slices // 2, (decided, slices)
    for start in range(0, 400):  # and one row at a time, as an online group of one
        _equal(requests.slice(start, 1))


def test_master_rows_prepare_the_same_on_values(synth: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, master = synth
    rows = master.select(pl.col(c).cast(pl.String) for c in FIELDS)
    decided = sum(_equal(rows.slice(start, 50)) for start in range(0, min(rows.height, 5000), 50))
    assert decided >= 50


def test_prepare_people_takes_the_value_path_only_for_small_plain_frames(
    synth: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    requests, _ = synth
    one = requests.slice(0, 1).with_columns(
        pl.lit("12 Main St").alias("street"), pl.lit("1980-01-02").alias("dob")
    )
    assert prepare_values(one, today=TODAY) is not None
    assert prepare_values(one.with_columns(pl.lit("12 Calle Peñón").alias("street")), today=TODAY) is None
    assert prepare_values(one.with_columns(pl.lit("1980-1-2").alias("dob")), today=TODAY) is None
    assert prepare_values(one.with_columns(pl.lit(None, pl.Int64).alias("zip")), today=TODAY) is None
    assert prepare_values(one.drop("tin"), today=TODAY) is None
    # whichever path is taken, the public function answers as the frame pipeline does
    for frame in (one, one.with_columns(pl.lit("1980-1-2").alias("dob")), requests.slice(0, 200)):
        assert_frame_equal(
            prepare_people(frame, today=TODAY).with_columns(pl.col("last_all").list.sort()),
            prepare_frame(frame, today=TODAY).with_columns(pl.col("last_all").list.sort()),
        )


_TEXT = st.text(
    alphabet=st.sampled_from(
        [*"abcXYZ019 -#/.,'`&", "\t", "\n", "\x0b", "\x1c", "\x1f", "\xa0", "é", "ß", "Ö", "\u2003", "١"]
    ),
    max_size=14,
)
_WORDS = st.sampled_from(
    ["", " ", "12 N Main St", "PO Box 77", "P O BOX 9", "4-B Elm-Park Rd # 5", "1/2", "12 1/2 First Ave Apt-3",
     "UNIT 4", "Rte 66 #", "Jr.", "de la Cruz", "Mac Donald", "O'Neil", "FNU", "II", "  Ann  Marie ",
     "1980-02-29", "1981-02-29", "02/03/1990", "13/02/1990", "19900203", "1879-12-31", "2026-11-25",
     "2026-11-26", "00-00-0000", " 1980-02-03 ", "\x1c1980-02-03", "123-45-6789", "123 45 6789\t",
     "1234567890", "9001", "90210-1234", "123456789", "ca ", "N.Y."]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.fixed_dictionaries({f: st.none() | _TEXT | _WORDS for f in FIELDS}), min_size=1, max_size=5)
)
def test_random_text_prepares_the_same_whichever_path(rows: list[dict[str, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(FIELDS, pl.String))
    event("value path" if _equal(frame) else "frame path")


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"\A[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}\Z|\A[0-9]{2}[-/][0-9]{2}[-/][0-9]{4}\Z|\A[0-9]{8}\Z")
)
def test_dob_layouts_parse_as_the_expressions_do(text: str) -> None:
    frame = pl.DataFrame({"dob": [text]})
    expected = frame.select(normalize_dob("dob", today=TODAY), dob_digits("dob", today=TODAY).alias("s")).row(
        0
    )
    decided = dob_values(text, today=TODAY)
    if decided is None:  # mixed separators are in no layout
        assert text[4:5] != text[7:8] or text[2:3] != text[5:6]
        return
    assert decided == expected


def test_every_plausible_day_parses_as_the_expressions_do() -> None:
    days = pl.date_range(date(1879, 12, 25), date(2026, 12, 5), eager=True)
    spelled = [d.strftime(f) for d in days.to_list()[::7] for f in ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d")]
    spelled += ["1980-02-30", "1980-13-01", "02/30/1980", "00/10/1980", "19800230", "2027-01-01"]
    frame = pl.DataFrame({"dob": spelled})
    expected = frame.select(
        normalize_dob("dob", today=TODAY), dob_digits("dob", today=TODAY).alias("s")
    ).rows()
    assert [dob_values(t, today=TODAY) for t in spelled] == expected


def test_frames_above_small_rows_take_the_frame_pipeline() -> None:
    frame = pl.DataFrame({f: ["x"] for f in FIELDS}).with_columns(pl.lit("1990-01-01").alias("dob"))
    assert prepare_values(frame, today=TODAY) is not None
    big = pl.concat([frame] * (prepare.SMALL_ROWS + 1))
    # above SMALL_ROWS the public function is the frame pipeline itself
    assert_frame_equal(prepare_people(big, today=TODAY), prepare_frame(big, today=TODAY))


_ASCII = st.text(alphabet=st.sampled_from(list("abcMNXYZ0129 -#/.,'`&\t\x1c")), max_size=16)
_DOBS = (
    st.none()
    | st.sampled_from(["", "  ", "1980-02-29", "19810229", "07/04/1976", "1879-12-31"])
    | st.from_regex(r"\A[0-9]{4}-[01][0-9]-[0-3][0-9]\Z")
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {f: st.none() | _ASCII | _WORDS for f in FIELDS if f != "dob"} | {"dob": _DOBS}
        ),
        min_size=1,
        max_size=5,
    )
)
def test_random_ascii_text_prepares_the_same_on_values(rows: list[dict[str, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(FIELDS, pl.String))
    event("value path" if _equal(frame) else "frame path")
