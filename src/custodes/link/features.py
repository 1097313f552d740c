"""The SQL that turns candidate pairs into comparison levels (one row per pair)."""

from __future__ import annotations

from custodes.link.comparisons import NAME_COMPARISONS, address_level_sql

PAIR_CONTEXT_COLUMNS = (
    "first_tok", "last_concat", "birth_year", "suffix", "addr_key", "middle_init",
)  # fmt: skip
"""Candidate columns the decision needs beyond the levels (to see twins and Jr/Sr)."""


def pair_levels_sql(
    pairs: str,
    requests: str,
    persons: str,
    addresses: str,
    known_first: str = "known_first",
    *,
    extra: tuple[str, ...] = (),
) -> str:
    """Levels of every comparison for each (rid, pid) in ``pairs``, with the candidate's ``tin``.

    ``requests`` has ``rid`` and the comparable columns; ``persons`` and ``addresses`` are
    index tables keyed by ``pid`` (the taxpayer's number in the index), and ``known_first``
    the known given names. The address level is the best over all of the candidate's
    addresses. ``extra``: more columns of ``persons``, last, under their own names.
    """
    levels = ",\n      ".join(f"{c.sql} AS c_{c.name}" for c in NAME_COMPARISONS)
    context = ", ".join(f"m.{c} AS m_{c}" for c in PAIR_CONTEXT_COLUMNS)
    more = "".join(f", m.{c}" for c in extra)
    return f"""
    WITH addr AS (
      SELECT p.rid, p.pid, max({address_level_sql("r", "a")}) AS address
      FROM {pairs} p
      JOIN {requests} r ON r.rid = p.rid
      JOIN {addresses} a ON a.pid = p.pid
      GROUP BY p.rid, p.pid
    )
    SELECT p.rid, m.tin,
      {levels},
      coalesce(addr.address, 0) AS c_address,
      r.suffix AS r_suffix,
      {context}{more}
    FROM {pairs} p
    JOIN {requests} r ON r.rid = p.rid
    JOIN {persons} m ON m.pid = p.pid
    LEFT JOIN {known_first} kr ON kr.first_tok = r.first_tok
    LEFT JOIN {known_first} km ON km.first_tok = m.first_tok
    LEFT JOIN addr ON addr.rid = p.rid AND addr.pid = p.pid
    """
