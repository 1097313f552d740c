"""Blocking: which master persons are compared with a request at all.

Each rule is an equi-join on key columns between a request table and an index table, run
as SQL. Several independent rules are used so that no true match depends on one field
being clean:

| rule | joins on | survives |
|---|---|---|
| tin | the whole TIN | anything but a TIN typo |
| tin_head / tin_tail | TIN digits 1-5 / 5-9 | a one-digit TIN typo |
| surname_dob | any surname token, dob | first-name changes, moves |
| first_dob | any first-name key (nickname groups), dob | surname changes and misspellings |
| swapped_dob | the request's given name as a surname token, dob | given name and surname swapped |
| name_year | surname token, first-name key, birth year | dob typos in day or month |
| phonetic_year | NYSIIS of first and last name, birth year | misspellings of both names |
| house_zip | house number, ZIP5 (any address on file) | name typos, missing dob |
| house_street_city | house number, street word, city | a ZIP typo |
| po_box | PO Box line, ZIP5 | |
| surname_zip | surname token, first initial, ZIP5 | a new street in the same ZIP |
| name_city | surname token, first-name key, city | a new address in the same city |

**Oversized keys.** A key value shared by more than ``max_block_size`` master rows (MARIA
GARCIA born 1980 in a very large city) is listed at master load in ``oversized_<rule>`` and
that rule is not used for requests carrying it: the other rules still apply. Excluding the
key *before* the join keeps every step linear in the number of requests; no block is ever
compared pairwise. ``docs/linkage.md`` states what the cap costs in recall.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BlockingRule:
    """One blocking rule: request table, index table and the key columns they join on."""

    name: str
    request_table: str
    index_table: str
    keys: tuple[str, ...]
    where: str = ""


RULES: tuple[BlockingRule, ...] = (
    BlockingRule("tin", "req", "persons", ("tin9",)),
    BlockingRule("tin_head", "req", "persons", ("tin_head",)),
    BlockingRule("tin_tail", "req", "persons", ("tin_tail",)),
    BlockingRule("surname_dob", "req_surnames", "surnames", ("token", "dob_d")),
    BlockingRule("first_dob", "req_firsts", "firstnames", ("fkey", "dob_d")),
    BlockingRule("swapped_dob", "req_swapped", "surnames", ("token", "dob_d")),
    BlockingRule("name_year", "req_name_keys", "name_keys", ("token", "fkey", "birth_year")),
    BlockingRule("phonetic_year", "req", "persons", ("last_ph", "first_ph", "birth_year")),
    BlockingRule("house_zip", "req", "addresses", ("house", "zip5")),
    BlockingRule("house_street_city", "req", "addresses", ("house", "street_word", "city_std")),
    BlockingRule("po_box", "req", "addresses", ("street_std", "zip5"), "r.house IS NULL AND m.house IS NULL"),
    BlockingRule("surname_zip", "req_surnames", "surname_places", ("token", "initial", "zip5")),
    BlockingRule("name_city", "req_name_keys", "name_places", ("token", "fkey", "city_std")),
)


def same_index_keys(rule: BlockingRule) -> BlockingRule:
    """The first rule that looks up the same index table by the same keys as ``rule`` (or itself).

    Such rules (``swapped_dob`` and ``surname_dob`` differ only on the request side) share
    their oversized keys, so those are counted once at master load.
    """
    return next(r for r in RULES if (r.index_table, r.keys) == (rule.index_table, rule.keys))


def oversized_keys_sql(rule: BlockingRule, max_block_size: int) -> str:
    """The key values of ``rule`` that more than ``max_block_size`` index rows share."""
    cols = ", ".join(rule.keys)
    not_null = " AND ".join(f"{k} IS NOT NULL" for k in rule.keys)
    on = " AND ".join(f"t.{k} = c.{k}" for k in rule.keys)
    # count(*) >= count(DISTINCT tin): the cheap count finds the few candidate keys first,
    # and the exact count runs on their rows only (half the CPU of one exact pass)
    candidates = (
        f"SELECT {cols} FROM {rule.index_table} WHERE {not_null} "
        f"GROUP BY {cols} HAVING count(*) > {int(max_block_size)}"
    )
    keys = ", ".join(f"t.{k}" for k in rule.keys)
    return (
        f"SELECT {keys} FROM {rule.index_table} t SEMI JOIN ({candidates}) c ON {on} "
        f"GROUP BY {keys} HAVING count(DISTINCT t.tin) > {int(max_block_size)}"
    )


def rule_pairs_sql(rule: BlockingRule) -> str:
    """(rid, pid) pairs of one rule, requests with an oversized key left out first."""
    on = " AND ".join(f"r.{k} = m.{k}" for k in rule.keys)
    on_big = " AND ".join(f"r.{k} = o.{k}" for k in rule.keys)
    where = f"WHERE {rule.where}" if rule.where else ""
    return f"""
        SELECT r.rid, m.pid
        FROM (SELECT * FROM {rule.request_table} r ANTI JOIN oversized_{rule.name} o ON {on_big}) r
        JOIN {rule.index_table} m ON {on}
        {where}"""


def candidate_pairs_sql() -> str:
    """All distinct (rid, pid) pairs over every rule: the rules' definition as joins on the
    index tables. The linker looks the same pairs up by key hash (``custodes.link.keys``)."""
    return "\nUNION\n".join(rule_pairs_sql(rule) for rule in RULES)
