"""Writing the decisions file (kept by the custodian) and the response file (sent to the agency).

Both writers check what they are given against the contract and raise ``ValueError`` on a
mismatch: a wrong frame here is a bug in custodes, not bad input, and must never reach a file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from custodes.codes import AddressStatus, Outcome, Reason
from custodes.contract.columns import DECISION_COLUMNS, DECISION_SCHEMA

NEVER_IN_RESPONSE: frozenset[str] = frozenset({"tin", "match_probability"})
"""Columns that identify a taxpayer or reveal the model; a response that carries one is a leak."""


def _unknown_values(frame: pl.DataFrame, column: str, allowed: set[str]) -> list[str]:
    values = frame.get_column(column).drop_nulls().unique().to_list()
    return sorted(str(v) for v in values if v not in allowed)


def write_decisions(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` as the decisions Parquet file: exactly ``DECISION_COLUMNS``, contract types."""
    missing = [c for c in DECISION_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"decisions lack the contract column(s) {missing}")
    out = frame.select(pl.col(name).cast(dtype) for name, dtype in DECISION_SCHEMA.items())
    checks = {
        "outcome": {o.value for o in Outcome},
        "reason": {r.value for r in Reason},
        "address_status": {s.value for s in AddressStatus},
    }
    for column, allowed in checks.items():
        unknown = _unknown_values(out, column, allowed)
        if unknown:
            raise ValueError(f"decisions hold {column} values outside the contract: {unknown}")
    if out.get_column("outcome").null_count():
        raise ValueError("every decision needs an outcome")
    out.write_parquet(path)


def write_response(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` (the agency's view, already shaped) as a UTF-8 CSV with a header; null is blank."""
    leaked = sorted(NEVER_IN_RESPONSE & set(frame.columns))
    if leaked:
        raise ValueError(f"a response must never carry {leaked}")
    if frame.columns[:2] != ["request_id", "outcome"]:
        raise ValueError("a response starts with the request_id and outcome columns")
    frame.write_csv(path, null_value="")
