"""Synthetic, deliberately hard test data: a master file, a request batch and its truth.

All people are synthetic: random combinations of common given names and surnames, living at
random addresses. ``generate`` is deterministic: one seed, byte-identical files.

Files written under ``out``:

- ``master.<fmt>``: one row per taxpayer per tax year (2021-2024), contract columns;
- ``requests.csv`` always, and ``requests.parquet`` too when ``fmt`` is parquet;
- ``requests.manifest.json``: a valid 26 USC 6103(i)(2) manifest for the batch;
- ``truth.csv``: per request, the expected outcome, reason, TIN, address status, category,
  tags and the info-floor flag (see ``custodes.synth.requests``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from custodes.errors import UserInputError
from custodes.synth.people import TAX_YEARS, make_master, make_people, make_strangers, render_master
from custodes.synth.pools import ANGLO, MALE, name_pools
from custodes.synth.requests import SHARES, make_requests

__all__ = ["SHARES", "SynthSummary", "generate"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class SynthSummary:
    """What ``generate`` wrote, and how many of each kind."""

    out: Path
    master_path: Path
    requests_path: Path
    """Always the CSV batch (what the manifest's batch_file names)."""
    requests_parquet_path: Path | None
    manifest_path: Path
    truth_path: Path
    persons: int
    households: int
    non_filers: int
    master_rows: int
    requests: int
    categories: Mapping[str, int]
    outcomes: Mapping[str, int]
    info_floor: int
    seconds: float


def _manifest(seed: int, requests: int, rng: np.random.Generator) -> dict[str, object]:
    pools = name_pools()
    first = pools.first[int(rng.choice(pools.first_ids[(ANGLO, MALE)][:60]))]
    middle = pools.first[int(rng.choice(pools.first_ids[(ANGLO, MALE)][:60]))]
    last = pools.surnames[int(rng.choice(pools.surname_ids[ANGLO][:200]))]
    start = datetime(2025, 1, 6, 9, 0, 0, tzinfo=UTC)
    submitted = start + timedelta(seconds=int(rng.integers(0, 150 * 86400)))
    return {
        "batch_id": f"SYNTH-{seed}-{requests}",
        "agency": "Department of Homeland Security",
        "legal_basis": "26 USC 6103(i)(2)",
        "statutory_authority": "8 USC 1253(a)(1)",
        "taxable_periods": [str(y) for y in TAX_YEARS],
        "reason": (
            "Each named person is subject to a final order of removal and is under "
            "investigation for willful failure to depart under 8 USC 1253(a)(1); the "
            "taxpayer's address is needed to locate that person for the proceeding."
        ),
        "signed_by": {"name": f"{first} {middle[0]}. {last}", "title": "Secretary of Homeland Security"},
        "submitted_at": submitted.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "disclosure_profile": "verify_only",
        "batch_file": "requests.csv",
        "record_count": requests,
    }


def generate(  # noqa: PLR0917 - the positional signature the CLI calls
    persons: int,
    requests: int,
    seed: int,
    out: Path,
    fmt: Literal["csv", "parquet"] = "parquet",
    progress: Progress | None = None,
) -> SynthSummary:
    """Write a master file of ``persons`` taxpayers and a batch of ``requests`` under ``out``."""
    if fmt not in ("csv", "parquet"):
        raise UserInputError(f"unknown format {fmt!r}", hint="use csv or parquet")
    if persons < 100:
        raise UserInputError(
            f"--persons must be at least 100, got {persons}", hint="ask for 100 or more persons"
        )
    if requests < 1:
        raise UserInputError(f"--requests must be at least 1, got {requests}")
    if seed < 0:
        raise UserInputError(f"--seed must be zero or positive, got {seed}")

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    started = time.perf_counter()
    # one PCG64 stream per stage, all derived from the seed: stages do not disturb each other
    streams = [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(5)]
    report("households", 0.0)
    people, addresses = make_people(streams[0], persons, requests + 100)
    extra_start = len(addresses) - (requests + 100)
    report("master", 0.25)
    master = make_master(streams[1], people)
    master_frame = render_master(streams[1], people, addresses, master)
    report("requests", 0.5)
    strangers = make_strangers(streams[2], requests + 10, people.tin)
    batch, truth = make_requests(
        rng=streams[3],
        p=people,
        a=addresses,
        master=master,
        strangers=strangers,
        extra_start=extra_start,
        n=requests,
    )
    report("writing", 0.8)
    out.mkdir(parents=True, exist_ok=True)
    master_path = out / f"master.{fmt}"
    if fmt == "parquet":
        master_frame.write_parquet(master_path, compression="zstd", statistics=True)
    else:
        master_frame.write_csv(master_path)
    requests_path = out / "requests.csv"
    batch.write_csv(requests_path)
    parquet_path: Path | None = None
    if fmt == "parquet":
        parquet_path = out / "requests.parquet"
        batch.write_parquet(parquet_path, compression="zstd", statistics=True)
    truth_path = out / "truth.csv"
    truth.write_csv(truth_path)
    manifest_path = out / "requests.manifest.json"
    manifest_path.write_text(
        json.dumps(_manifest(seed, requests, streams[4]), indent=2) + "\n", encoding="utf-8"
    )
    report("done", 1.0)
    categories = Counter(truth["category"].to_list())
    outcomes = Counter(truth["expected_outcome"].to_list())
    return SynthSummary(
        out=out,
        master_path=master_path,
        requests_path=requests_path,
        requests_parquet_path=parquet_path,
        manifest_path=manifest_path,
        truth_path=truth_path,
        persons=int(people.filer.sum()),
        households=int(people.hh.max()) + 1,
        non_filers=int((~people.filer).sum()),
        master_rows=master_frame.height,
        requests=batch.height,
        categories=dict(sorted(categories.items())),
        outcomes=dict(sorted(outcomes.items())),
        info_floor=int((truth["info_floor"] == "true").sum()),
        seconds=round(time.perf_counter() - started, 3),
    )
