"""Blocking: which master persons are compared with a request at all.

Each rule is an equi-join between the request and an index table, run as SQL. Several
independent rules are used so that no true match depends on one field being clean:

| rule | joins on | survives |
|---|---|---|
| tin | the whole TIN | anything but a TIN typo |
| tin_head / tin_tail | TIN digits 1-5 / 5-9 | a one-digit TIN typo |
| surname_dob | any surname token, dob | first-name changes, moves |
| first_dob | any first-name key (nickname groups), dob | surname changes and misspellings |
| surname_year | surname token, birth year, compatible first name | dob typos in day or month |
| phonetic_year | NYSIIS of first and last name, birth year | misspellings of both names |
| house_zip | house number, ZIP5 (any address on file) | name typos, missing dob |
| house_street_city | house number, street word, city | a ZIP typo |
| po_box | PO Box line, ZIP5 | |
| surname_zip | surname token, first initial, ZIP5 | a new street in the same ZIP |
| surname_city | surname token, city, compatible first name | a new address in the same city |

A rule whose join gives one request more than ``max_block_size`` candidates is skipped
for that request (the other rules still apply): this is what keeps a common name in a big
city (MARIA GARCIA, LOS ANGELES) from costing a quadratic block. ``docs/linkage.md`` states
what the cap costs in recall.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockingRule:
    """One blocking rule: a name and a SELECT of (rid, tin) pairs."""

    name: str
    sql: str


RULES: tuple[BlockingRule, ...] = (
    BlockingRule("tin", "SELECT r.rid, p.tin FROM req r JOIN persons p ON p.tin = r.tin9"),
    BlockingRule("tin_head", "SELECT r.rid, p.tin FROM req r JOIN persons p ON p.tin_head = left(r.tin9, 5)"),
    BlockingRule(
        "tin_tail", "SELECT r.rid, p.tin FROM req r JOIN persons p ON p.tin_tail = right(r.tin9, 5)"
    ),
    BlockingRule(
        "surname_dob",
        "SELECT r.rid, s.tin FROM req_surnames r JOIN surnames s ON s.token = r.token AND s.dob_d = r.dob_d",
    ),
    BlockingRule(
        "first_dob",
        "SELECT r.rid, f.tin FROM req_firsts r JOIN firstnames f ON f.fkey = r.fkey AND f.dob_d = r.dob_d",
    ),
    BlockingRule(
        "surname_year",
        """SELECT r.rid, s.tin FROM req_surnames r
           JOIN surnames s ON s.token = r.token AND s.birth_year = r.birth_year
           WHERE list_has_any(s.first_keys, r.first_keys)""",
    ),
    BlockingRule(
        "phonetic_year",
        """SELECT r.rid, p.tin FROM req r JOIN persons p
           ON p.last_ph = r.last_ph AND p.first_ph = r.first_ph AND p.birth_year = r.birth_year""",
    ),
    BlockingRule(
        "house_zip",
        "SELECT r.rid, a.tin FROM req r JOIN addresses a ON a.house = r.house AND a.zip5 = r.zip5",
    ),
    BlockingRule(
        "house_street_city",
        """SELECT r.rid, a.tin FROM req r JOIN addresses a
           ON a.house = r.house AND a.street_word = r.street_word AND a.city_std = r.city_std""",
    ),
    BlockingRule(
        "po_box",
        """SELECT r.rid, a.tin FROM req r JOIN addresses a
           ON a.street_std = r.street_std AND a.zip5 = r.zip5
           WHERE r.house IS NULL AND a.house IS NULL""",
    ),
    BlockingRule(
        "surname_zip",
        """SELECT r.rid, s.tin FROM req_surnames r JOIN surname_places s
           ON s.token = r.token AND s.zip5 = r.zip5 AND s.initial = r.initial""",
    ),
    BlockingRule(
        "surname_city",
        """SELECT r.rid, s.tin FROM req_surnames r JOIN surname_places s
           ON s.token = r.token AND s.city_std = r.city_std
           WHERE list_has_any(s.first_keys, r.first_keys)""",
    ),
)


def candidate_pairs_sql(max_block_size: int) -> str:
    """All (rid, tin) pairs from every rule, each rule capped per request."""
    capped = [
        f"""SELECT rid, tin FROM ({rule.sql}) AS {rule.name}
            QUALIFY count(*) OVER (PARTITION BY rid) <= {int(max_block_size)}"""
        for rule in RULES
    ]
    return "\nUNION\n".join(capped)
