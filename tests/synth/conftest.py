"""One generated data set per test session: generation is deterministic, so it is shared."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from custodes.synth import SynthSummary, generate

PERSONS = 20_000
REQUESTS = 3_000
SEED = 11


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate(PERSONS, REQUESTS, seed=SEED, out=tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="session")
def master(synth: SynthSummary) -> pl.DataFrame:
    return pl.read_parquet(synth.master_path)


@pytest.fixture(scope="session")
def requests(synth: SynthSummary) -> pl.DataFrame:
    return pl.read_csv(synth.requests_path, infer_schema=False)


@pytest.fixture(scope="session")
def truth(synth: SynthSummary) -> pl.DataFrame:
    return pl.read_csv(synth.truth_path, infer_schema=False)


@pytest.fixture(scope="session")
def joined(requests: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Requests with their truth; truth's tin is ``true_tin``."""
    return requests.join(truth.rename({"tin": "true_tin"}), on="request_id", how="inner")


def out_dir(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())
