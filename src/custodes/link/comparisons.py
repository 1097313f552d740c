"""Field comparisons as SQL: each comparison maps a pair to a small integer level.

Level 0 always means "missing on either side" (no evidence either way). Higher levels
mean closer agreement. The SQL is built once, by small pure functions, and reads only the
columns of ``custodes.link.prepare.COMPARABLE_COLUMNS`` on both sides (aliases ``r`` for
the request and ``m`` for the master person), so the same text runs on DuckDB and Spark.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """One field comparison: its name, its levels (index = level) and its SQL."""

    name: str
    levels: tuple[str, ...]
    sql: str


JW_NAME = 0.88
"""Jaro-Winkler similarity above which two names count as a misspelling of each other."""
JW_STREET = 0.88


def edits_apart(a: str, b: str, n: int) -> str:
    """SQL: ``a`` and ``b`` are exactly ``n`` Damerau-Levenshtein edits apart.

    Their lengths are compared first: no two strings whose lengths differ by more than
    ``n`` are ``n`` edits apart, and DuckDB's ``damerau_levenshtein`` is the costliest
    function the comparisons call (at 10M persons a part's levels streamed in 13.3 against
    16.0 s with this guard). NULL in, NULL out, as ``damerau_levenshtein`` alone.
    """
    return f"(abs(length({a}) - length({b})) <= {n} AND damerau_levenshtein({a}, {b}) = {n})"


GENDERED_ENDINGS = ("A", "E", "IA", "INA", "INE", "LE", "ELLE", "ETTE", "O")
"""Endings that turn one given name into its other-gender form (PAUL/PAULA, ERIC/ERICA,
DANIEL/DANIELLE); a final O/A swap does too (FRANCISCO/FRANCISCA, MARIO/MARIA). Such pairs
are different names, not typos; a doubled final letter (DANIELAA, MIAA) is a typo."""


def _gendered_pair(a: str, b: str) -> str:
    endings = ", ".join(f"'{e}'" for e in GENDERED_ENDINGS)
    added = f"""(length({a}) <> length({b})
           AND (starts_with({a}, {b}) OR starts_with({b}, {a}))
           AND least(length({a}), length({b})) >= 3
           AND NOT (abs(length({a}) - length({b})) = 1 AND right({a}, 1) = right({b}, 1))
           AND CASE WHEN length({a}) > length({b}) THEN substr({a}, length({b}) + 1)
                    ELSE substr({b}, length({a}) + 1) END IN ({endings}))"""
    swapped = f"""(length({a}) = length({b}) AND length({a}) >= 4
           AND left({a}, length({a}) - 1) = left({b}, length({b}) - 1)
           AND list_sort([right({a}, 1), right({b}, 1)]) = ['A', 'O'])"""
    return f"({added} OR {swapped})"


KNOWN_REQUEST = "kr.first_tok IS NOT NULL"
KNOWN_MASTER = "km.first_tok IS NOT NULL"
"""Whether each side's first name is a known given name (``known_first``, joined as ``kr``
and ``km`` by ``custodes.link.features``) rather than a misspelling."""

SWAPPED = """(r.first_tok <> m.first_tok AND r.first_tok <> r.last_concat
      AND (list_contains(m.last_tokens, r.first_tok)
           OR jaro_winkler_similarity(r.first_tok, m.last_concat) >= 0.92)
      AND (list_contains(r.last_tokens, m.first_tok)
           OR jaro_winkler_similarity(m.first_tok, r.last_concat) >= 0.92))"""
"""The given name and the surname were written in each other's fields (JASSIM RYBAK for
RYBAK JASSIM), each up to a misspelling."""

SIMILAR_NAMES = f"""(length(r.first_tok) > 1 AND length(m.first_tok) > 1
      AND (jaro_winkler_similarity(r.first_tok, m.first_tok) >= {JW_NAME}
           OR (least(length(r.first_tok), length(m.first_tok)) >= 4
               AND {edits_apart("r.first_tok", "m.first_tok", 1)})
           OR (length(r.first_tok) = length(m.first_tok) AND length(r.first_tok) >= 3
               -- AND does not guard evaluation: hamming errs on unequal lengths (DuckDB 1.x)
               AND CASE WHEN length(r.first_tok) = length(m.first_tok)
                        THEN hamming(r.first_tok, m.first_tok) END = 2
               AND damerau_levenshtein(r.first_tok, m.first_tok) = 1)))"""
"""Two first names one keystroke or a Jaro-Winkler misspelling apart (PAKL/PAUL, TOBT/TOBY),
or two adjacent letters swapped (MIE/MEI)."""

TWO_KEYSTROKES = f"""(({KNOWN_REQUEST}) <> ({KNOWN_MASTER})
      AND least(length(r.first_tok), length(m.first_tok)) >= 5
      AND left(r.first_tok, 1) = left(m.first_tok, 1)
      AND {edits_apart("r.first_tok", "m.first_tok", 2)})"""
"""Two keystrokes apart, and exactly one side a known given name (RIFEY for RIDLEY, ZALKA for
ZARLIA): the unknown one is a misspelling of the known one, not a relative's name. Two known
names this close (JAYDEN/JAYLEN) stay ``different``."""

ABBREVIATED = """((least(length(r.first_tok), length(m.first_tok)) >= 3
       AND (starts_with(r.first_tok, m.first_tok) OR starts_with(m.first_tok, r.first_tok)))
      OR (least(length(r.first_tok), length(m.first_tok)) >= 4
       AND (ends_with(r.first_tok, m.first_tok) OR ends_with(m.first_tok, r.first_tok))))"""
"""A given name cut short at either end (BARB for BARBARA, TINA for CHRISTINA, FINA for
JOSEFINA)."""

GOES_BY_MIDDLE = """((length(r.first_tok) > 1 AND r.first_tok = split_part(m.middle_std, ' ', 1))
      OR (length(m.first_tok) > 1 AND m.first_tok = split_part(r.middle_std, ' ', 1)))"""
"""One side gives as first name what the other has as its middle name (J ROBERT SMITH, who
goes by ROBERT). Only ``similar_name``: a relative may carry the same name as a middle name
(JUN, and his son MIN-JUN)."""


def _half_a_compound(a: str, b: str) -> str:
    second = f"split_part({a}.first_std, ' ', 2)"
    return f"""({a}.first_std <> {a}.first_tok AND {b}.first_std = {b}.first_tok
           AND ({b}.middle_std IS NULL
                OR NOT starts_with({second}, split_part({b}.middle_std, ' ', 1))))"""


HALF_A_COMPOUND = f"({_half_a_compound('r', 'm')} OR {_half_a_compound('m', 'r')})"
"""One side's given name is a compound (MARY KATE, MARIA JOSE, MIN JUN) and the other gives
only its first part, without the second as a middle name or initial: a daughter MARY-KATE
and her mother MARY are two people, so this is only ``similar_name``."""

SPLIT_BY_A_SPACE = """((r.first_std <> r.first_tok AND replace(r.first_std, ' ', '') = m.first_tok)
      OR (m.first_std <> m.first_tok AND replace(m.first_std, ' ', '') = r.first_tok))"""
"""One side's given name is the other's with a space in it (LE AH for LEAH, MARY ANN for
MARYANN): a misspelling of one name, not two given names."""

FIRST_NAME = Comparison(
    "first_name",
    ("missing", "different", "initial", "similar_name", "typo", "nickname", "exact"),
    f"""CASE
      WHEN r.first_tok IS NULL OR m.first_tok IS NULL THEN 0
      WHEN r.first_tok = m.first_tok THEN CASE WHEN {HALF_A_COMPOUND} THEN 3 ELSE 6 END
      WHEN {SPLIT_BY_A_SPACE} THEN 4
      WHEN {_gendered_pair("r.first_tok", "m.first_tok")} THEN
           CASE WHEN {KNOWN_REQUEST} AND {KNOWN_MASTER} THEN 1 ELSE 4 END
      WHEN list_contains(m.first_keys, r.first_tok) OR list_contains(r.first_keys, m.first_tok) THEN 5
      WHEN {SWAPPED} THEN 5
      WHEN {ABBREVIATED} THEN 5
      WHEN {GOES_BY_MIDDLE} THEN 3
      WHEN {SIMILAR_NAMES} THEN CASE WHEN {KNOWN_REQUEST} AND {KNOWN_MASTER} THEN 3 ELSE 4 END
      WHEN {TWO_KEYSTROKES} THEN 4
      WHEN (length(r.first_tok) = 1 OR length(m.first_tok) = 1)
           AND left(r.first_tok, 1) = left(m.first_tok, 1) THEN 2
      ELSE 1 END""",
)
"""``similar_name``: two distinct known names close in spelling (MARK/MARY, CHRISTINA/
CHRISTIAN): as likely two relatives as one misspelt person. ``typo``: just as close, but one
side is no known name, so one of them is a misspelling of the other. A gendered pair
(PAUL/PAULA, KYLE/KYLA) is ``different`` when both are known given names; when one is no
known name (KYL for KYLE, JOSHU for JOSHUA) it is a letter dropped or added: ``typo``."""

MIDDLE_NAME = Comparison(
    "middle_name",
    ("missing", "different", "initial", "exact"),
    """CASE
      WHEN r.middle_init IS NULL OR m.middle_init IS NULL THEN 0
      WHEN r.middle_std = m.middle_std THEN 3
      WHEN r.middle_init = m.middle_init
           AND (length(r.middle_std) = 1 OR length(m.middle_std) = 1) THEN 2
      WHEN r.middle_init = m.middle_init
           AND (starts_with(r.middle_std, m.middle_std) OR starts_with(m.middle_std, r.middle_std))
           THEN 2
      ELSE 1 END""",
)

LAST_NAME = Comparison(
    "last_name",
    ("missing", "different", "fuzzy", "surname_token", "exact"),
    f"""CASE
      WHEN r.last_concat IS NULL OR m.last_concat IS NULL THEN 0
      WHEN r.last_concat = m.last_concat OR list_sort(r.last_tokens) = list_sort(m.last_tokens)
           THEN 4
      WHEN list_has_any(r.last_tokens, m.last_tokens) OR {SWAPPED} THEN 3
      WHEN jaro_winkler_similarity(r.last_concat, m.last_concat) >= {JW_NAME}
           OR jaro_winkler_similarity(r.last_tokens[1], m.last_tokens[1]) >= 0.92
           OR (least(length(r.last_concat), length(m.last_concat)) >= 5
               AND {edits_apart("r.last_concat", "m.last_concat", 1)}) THEN 2
      ELSE 1 END""",
)

DOB = Comparison(
    "dob",
    ("missing", "different", "partial", "typo", "exact"),
    """CASE
      WHEN r.dob_s IS NULL OR m.dob_s IS NULL THEN 0
      WHEN r.dob_s = m.dob_s THEN 4
      WHEN hamming(r.dob_s, m.dob_s) = 1 THEN 3
      WHEN substr(r.dob_s, 1, 4) = substr(m.dob_s, 1, 4)
           AND substr(r.dob_s, 5, 2) = substr(m.dob_s, 7, 2)
           AND substr(r.dob_s, 7, 2) = substr(m.dob_s, 5, 2) THEN 3
      WHEN hamming(r.dob_s, m.dob_s) = 2 AND damerau_levenshtein(r.dob_s, m.dob_s) = 1 THEN 3
      WHEN r.dob_d IS NULL OR m.dob_d IS NULL THEN
           CASE WHEN left(r.dob_s, 4) = left(m.dob_s, 4) THEN 0 ELSE 1 END
      WHEN substr(r.dob_s, 1, 4) = substr(m.dob_s, 1, 4)
           AND (substr(r.dob_s, 5, 2) = substr(m.dob_s, 5, 2)
                OR substr(r.dob_s, 7, 2) = substr(m.dob_s, 7, 2)) THEN 2
      ELSE 1 END""",
)
"""A typo is one digit off, day and month swapped, or two adjacent digits transposed. A dob
that is no valid date (1971-09-77) is compared by its digits: a typo as above, a different
year a contradiction, and otherwise no evidence (1994-02-30 often stands for 'born in 1994')."""

DOB_COMPATIBLE = """(r.dob_s IS NULL OR m.dob_s IS NULL
      OR ((r.dob_d IS NULL OR m.dob_d IS NULL) AND left(r.dob_s, 4) = left(m.dob_s, 4))
      OR hamming(r.dob_s, m.dob_s) <= 2
      OR (left(r.dob_s, 4) = left(m.dob_s, 4) AND substr(r.dob_s, 5, 2) = substr(m.dob_s, 7, 2)
          AND substr(r.dob_s, 7, 2) = substr(m.dob_s, 5, 2)))"""
"""Dates of birth that could be one person's: either missing, at most two digits apart, day
and month swapped, or one of them no valid date but the same year. A pair outside this (and
without the same TIN) is never a match."""

TIN = Comparison(
    "tin",
    ("missing", "different", "one_edit", "exact"),
    """CASE
      WHEN r.tin9 IS NULL OR m.tin9 IS NULL THEN 0
      WHEN r.tin9 = m.tin9 THEN 3
      WHEN hamming(r.tin9, m.tin9) = 1 THEN 2
      WHEN hamming(r.tin9, m.tin9) = 2 AND damerau_levenshtein(r.tin9, m.tin9) = 1 THEN 2
      ELSE 1 END""",
)
"""Hamming distance first: the Damerau-Levenshtein check runs only where a transposition is possible."""

ADDRESS_LEVELS = ("missing", "different", "same_area", "close", "exact_previous", "exact_current")


def address_level_sql(r: str = "r", a: str = "a") -> str:
    """Level of agreement between request address ``r`` and one master address ``a``.

    ``exact`` needs the same house number, the same street (up to misspelling), the same
    ZIP5 or city, and no conflicting unit. A PO Box has no house number and must be equal.
    ``close``: the same house with another unit or street, or the same street and place with
    a house number one keystroke off (634/63, 1926/1962).
    """
    same_street = f"jaro_winkler_similarity({r}.street_std, {a}.street_std) >= {JW_STREET}"
    same_place = f"({r}.zip5 = {a}.zip5 OR {r}.city_std = {a}.city_std)"
    unit_ok = f"({r}.unit IS NULL OR {a}.unit IS NULL OR {r}.unit = {a}.unit)"
    exact = f"""(
        ({r}.house = {a}.house AND {same_street} AND {same_place} AND {unit_ok})
        OR ({r}.house IS NULL AND {a}.house IS NULL AND {r}.street_std = {a}.street_std
            AND {same_place})
    )"""
    return f"""CASE
      WHEN {r}.street_std IS NULL OR {a}.street_std IS NULL THEN 0
      WHEN {exact} THEN CASE WHEN {a}.is_current THEN 5 ELSE 4 END
      WHEN {r}.house = {a}.house AND ({r}.zip5 = {a}.zip5 OR {same_street}) THEN 3
      WHEN {same_street} AND {same_place} AND {edits_apart(f"{r}.house", f"{a}.house", 1)} THEN 3
      WHEN {r}.zip5 = {a}.zip5 OR ({r}.city_std = {a}.city_std AND {r}.state_std = {a}.state_std)
           THEN 2
      ELSE 1 END"""


NAME_COMPARISONS: tuple[Comparison, ...] = (FIRST_NAME, MIDDLE_NAME, LAST_NAME, DOB, TIN)
"""Comparisons made between the request and the candidate's record of identity."""

ALL_LEVELS: dict[str, tuple[str, ...]] = {
    **{c.name: c.levels for c in NAME_COMPARISONS},
    "address": ADDRESS_LEVELS,
}
"""Every comparison name and its levels, in model order."""
