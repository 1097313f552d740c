"""Response shaping: what the requesting agency receives, and nothing more.

- Every row carries ``request_id`` and ``outcome``.
- ``outcome`` is ``match``, ``no_match`` or ``refused``. An internal ``ambiguous`` goes out
  as ``no_match``: telling the agency that several people on file resemble its subject
  would itself disclose return information (26 USC 6103(b)(6)).
- ``reason`` is filled only for ``refused`` rows, and names the request's own defect.
- ``address_status`` (current / previous / not_on_file) only for ``match``.
- Under the ``address_of_record`` profile, where the basis permits it, a match also carries
  the address of record. No TIN, probability or candidate count ever leaves.
"""

from __future__ import annotations

import hashlib
import json

import polars as pl

from custodes.codes import Outcome

VERIFY_ONLY = "verify_only"
ADDRESS_OF_RECORD = "address_of_record"
PROFILES = (VERIFY_ONLY, ADDRESS_OF_RECORD)

RESPONSE_COLUMNS = ("request_id", "outcome", "reason", "address_status")
ADDRESS_COLUMNS = ("street", "city", "state", "zip")
SMALL_ROWS = 64
"""Up to this many rows a ``verify_only`` response is shaped on Python values
(``_verify_only_values``): each polars step costs about 0.1 ms whatever the rows."""


def response_frame(
    decisions: pl.DataFrame, profile: str, addresses: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The agency's view of ``decisions`` (contract columns) under ``profile``.

    ``addresses`` (tin + ``ADDRESS_COLUMNS``) is required for ``address_of_record``.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown disclosure profile {profile!r}")
    if profile == VERIFY_ONLY and decisions.height <= SMALL_ROWS:
        small = _verify_only_values(decisions)
        if small is not None:
            return small
    return response_of_frame(decisions, profile, addresses)


def response_of_frame(
    decisions: pl.DataFrame, profile: str, addresses: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``response_frame`` as frame operations: the definition, whatever the frame's size."""
    is_match = pl.col("outcome") == Outcome.MATCH.value
    out = decisions.select(
        "request_id",
        pl.when(pl.col("outcome") == Outcome.AMBIGUOUS.value)
        .then(pl.lit(Outcome.NO_MATCH.value))
        .otherwise(pl.col("outcome"))
        .alias("outcome"),
        pl.when(pl.col("outcome") == Outcome.REFUSED.value).then(pl.col("reason")).alias("reason"),
        pl.when(is_match).then(pl.col("address_status")).alias("address_status"),
        "tin",
    )
    if profile == ADDRESS_OF_RECORD:
        if addresses is None:
            raise ValueError("the address_of_record profile needs the addresses of record")
        out = out.join(addresses.select("tin", *ADDRESS_COLUMNS), on="tin", how="left", maintain_order="left")
        out = out.with_columns(pl.when(is_match).then(pl.col(c)).alias(c) for c in ADDRESS_COLUMNS)
    return out.drop("tin")


def _verify_only_values(decisions: pl.DataFrame) -> pl.DataFrame | None:
    """``response_frame`` under ``verify_only`` on Python values, or None when a column it reads
    is not text; held equal to the frame operations by tests/test_disclose.py."""
    schema = decisions.schema
    if any(schema.get(c) != pl.String for c in RESPONSE_COLUMNS):
        return None
    outcomes = decisions.get_column("outcome").to_list()
    reasons = decisions.get_column("reason").to_list()
    statuses = decisions.get_column("address_status").to_list()
    return pl.DataFrame(
        [
            decisions.get_column("request_id"),
            pl.Series(
                "outcome",
                [Outcome.NO_MATCH.value if o == Outcome.AMBIGUOUS.value else o for o in outcomes],
                dtype=pl.String,
            ),
            pl.Series(
                "reason",
                [r if o == Outcome.REFUSED.value else None for o, r in zip(outcomes, reasons, strict=True)],
                dtype=pl.String,
            ),
            pl.Series(
                "address_status",
                [s if o == Outcome.MATCH.value else None for o, s in zip(outcomes, statuses, strict=True)],
                dtype=pl.String,
            ),
        ]
    )


def response_digests(response: pl.DataFrame) -> pl.Series:
    """SHA-256 of each response row's canonical JSON: the record of what was disclosed.

    The canonical JSON is ``json.dumps(row, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``. A frame of text columns of ``ENCODE_MIN_ROWS`` rows or more is
    encoded by polars instead (a 100,000-row response: about 0.6 s less), which writes the same
    text for strings and nulls; ``tests/test_disclose.py`` holds the two equal on any text.
    """
    names = sorted(response.columns)
    if response.height >= ENCODE_MIN_ROWS and all(response.schema[n] == pl.String for n in names):
        texts = response.select(pl.struct(names).struct.json_encode()).to_series().to_list()
    else:
        texts = [
            json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            for row in response.to_dicts()
        ]
    return pl.Series(
        "response_sha256", [hashlib.sha256(text.encode()).hexdigest() for text in texts], dtype=pl.Utf8
    )


ENCODE_MIN_ROWS = 64
"""Responses shorter than this (an online group's) are encoded row by row in Python."""
