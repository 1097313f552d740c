"""custodes beside Splink 5, on the same files in the same run (``custodes bench linkage``).

For each data set (synth at the given size, FEBRL4 without and with its soc_sec_id as TIN,
the pseudopeople sample) both systems run as child processes, timed by ``run_stage``. Peak
RSS is each child's own high-water mark (``VmHWM``, recorded at exit through
``custodes.bench.peak``), because ``wait4``'s figure starts from the driver's own peak
(see that module); the ``wait4`` figure is kept beside it as ``wait4_maxrss_mib``.

- **custodes**: ``init``, ``master load``, ``verify``, each in a fresh ``CUSTODES_HOME``;
  its time is ``master load`` + ``verify`` and its peak RSS the larger of the two;
- **Splink**: ``python -m custodes.bench.splink_baseline`` (see that module for the exact
  configuration): reading, training, predicting and deciding in one process. Its decision
  rule comes in two variants from the same predictions, ``splink`` (top candidate at
  >= 0.99) and ``splink_margin`` (also 8 bits ahead of the runner-up); they share the run's
  time and RSS.

Every decisions file is scored with ``custodes.score.score`` against the same truth.
Splink refuses nothing, so a request the law refuses and Splink matches counts as a
wrongful disclosure, as it would in production; ``wrongful_breakdown`` separates those
from matches to the wrong taxpayer and to someone not on file.

Writes ``results/linkage-<persons>-<requests>-s<seed>-<dataset>-<system>.json`` per system
and data set, and the summary ``results/linkage-<persons>-<requests>-s<seed>.json``.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from custodes.bench.external import CONVERTERS, convert
from custodes.bench.peak import PEAK_FILE_ENV, read_peak_mib
from custodes.bench.pipeline import StageRun, run_stage
from custodes.bench.splink_baseline import SplinkConfig
from custodes.score import score

DATASETS: tuple[str, ...] = ("synth", *CONVERTERS)
"""Every data set the benchmark knows, in run order."""

SYSTEMS: tuple[str, ...] = ("custodes", "splink", "splink_margin")

SPLINK_MODULE = "custodes.bench.splink_baseline"

HEADLINE_KEYS: tuple[str, ...] = (
    "precision", "recall", "f1", "wrongful_disclosures", "wrongful_rate", "wrongful_outside_floor",
    "info_floor", "address_status_accuracy", "recall_outside_floor", "refusal_recall",
    "refusal_precision",
)  # fmt: skip

Progress = Callable[[str], None]


def _tin(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Utf8).str.replace_all(r"[\s-]", "").fill_null("")


def wrongful_breakdown(truth: Path, decisions: Path) -> dict[str, int]:
    """Wrongful matches split by what the request really was.

    ``refusable``: the law refuses the request (whoever was matched); ``not_on_file``: the
    subject has no record; ``other_taxpayer``: the subject is on file and someone else was
    named. ``in_info_floor`` counts those the generator marked indistinguishable.
    """
    t = pl.read_csv(truth, infer_schema=False)
    d = (
        pl.read_parquet(decisions)
        if decisions.suffix == ".parquet"
        else pl.read_csv(decisions, infer_schema=False)
    )
    joined = t.select(
        "request_id",
        "expected_outcome",
        _tin("tin").alias("exp_tin"),
        pl.col("info_floor").fill_null("false").str.to_lowercase().is_in(["true", "1"]).alias("floor"),
    ).join(d.select("request_id", "outcome", _tin("tin").alias("got_tin")), on="request_id")
    wrong = joined.filter(
        (pl.col("outcome") == "match")
        & ~((pl.col("expected_outcome") == "match") & (pl.col("got_tin") == pl.col("exp_tin")))
    )
    return {
        "refusable": wrong.filter(pl.col("expected_outcome") == "refused").height,
        "not_on_file": wrong.filter(pl.col("expected_outcome") == "no_match").height,
        "other_taxpayer": wrong.filter(pl.col("expected_outcome") == "match").height,
        "in_info_floor": wrong.filter(pl.col("floor")).height,
    }


def measured_stage(
    stage: str, module: str, args: list[str], *, env: dict[str, str], log: Path, peaks: Path
) -> tuple[StageRun, float]:
    """``run_stage`` through the peak launcher: (the run with its own peak RSS, wait4's figure)."""
    peaks.mkdir(parents=True, exist_ok=True)
    peak_file = peaks / f"{stage}.json"
    peak_file.unlink(missing_ok=True)
    run = run_stage(
        stage, [module, *args], {**env, PEAK_FILE_ENV: str(peak_file)}, log, module="custodes.bench.peak"
    )
    own = read_peak_mib(peak_file)
    return (replace(run, peak_rss_mib=own) if own is not None else run), run.peak_rss_mib


def _data_dir(dataset: str, persons: int, requests: int, seed: int, workdir: Path) -> Path:
    if dataset == "synth":
        return workdir / f"synth-{persons}-{requests}-s{seed}"
    return workdir / "external" / dataset


def _prepare(
    dataset: str, data: Path, *, persons: int, requests: int, seed: int, env: dict[str, str], log: Path
) -> list[StageRun]:
    """Generate or convert the data set unless its truth is already there."""
    if (data / "truth.csv").exists():
        return []
    if dataset == "synth":
        args = ["synth", "--persons", str(persons), "--requests", str(requests), "--seed", str(seed),
                "--out", str(data)]  # fmt: skip
        run = run_stage("synth", args, env, log)
        if run.returncode != 0:
            raise RuntimeError(f"synth failed (exit {run.returncode}); see {log}")
        return [run]
    convert(dataset, data)
    return []


def _clear(path: Path) -> None:
    if path.exists():
        for child in sorted(path.rglob("*"), reverse=True):
            child.unlink() if child.is_file() or child.is_symlink() else child.rmdir()
        path.rmdir()


def _run_custodes(data: Path, work: Path, log: Path) -> tuple[list[StageRun], dict[str, float], Path]:
    home, out = work / "custodes-home", work / "custodes-out"
    _clear(home)
    env = {**os.environ, "CUSTODES_HOME": str(home)}
    commands = {
        "init": ["init"],
        "master_load": ["master", "load", str(data / "master.parquet")],
        "verify": ["verify", str(data / "requests.csv"), "--manifest", str(data / "requests.manifest.json"),
                   "--out", str(out)],
    }  # fmt: skip
    stages: list[StageRun] = []
    wait4: dict[str, float] = {}
    for stage, args in commands.items():
        run, wait4[stage] = measured_stage(stage, "custodes", args, env=env, log=log, peaks=work / "peaks")
        stages.append(run)
        if run.returncode != 0:
            raise RuntimeError(f"custodes {stage} failed (exit {run.returncode}); see {log}")
    return stages, wait4, out / "decisions.parquet"


def _run_splink(data: Path, work: Path, seed: int, log: Path) -> tuple[StageRun, dict[str, float], Path]:
    out = work / "splink-out"
    args = [str(data / "master.parquet"), str(data / "requests.csv"), str(out), "--seed", str(seed)]
    run, wait4 = measured_stage(
        "splink", SPLINK_MODULE, args, env=dict(os.environ), log=log, peaks=work / "peaks"
    )
    if run.returncode != 0:
        raise RuntimeError(f"Splink failed (exit {run.returncode}); see {log}")
    return run, {"splink": wait4}, out


def _headline(report: dict[str, object]) -> dict[str, object]:
    quality = report["quality"]
    assert isinstance(quality, dict)
    return {
        "seconds": report["seconds"],
        "peak_rss_mib": report["peak_rss_mib"],
        **{key: quality.get(key) for key in HEADLINE_KEYS},
        "wrongful_breakdown": report["wrongful_breakdown"],
        "outcome_counts": quality.get("outcome_counts"),
    }


def _ratio(num: object, den: object) -> float | None:
    if isinstance(num, int | float) and isinstance(den, int | float) and den:
        return round(float(num) / float(den), 4)
    return None


def ratios(ours: dict[str, object], theirs: dict[str, object]) -> dict[str, float | None]:
    """custodes / other system: time, peak RSS, wrongful disclosures and recall."""
    return {
        "time": _ratio(ours["seconds"], theirs["seconds"]),
        "peak_rss": _ratio(ours["peak_rss_mib"], theirs["peak_rss_mib"]),
        "wrongful": _ratio(ours["wrongful_disclosures"], theirs["wrongful_disclosures"]),
        "recall": _ratio(ours["recall"], theirs["recall"]),
    }


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def synth_targets(ours: dict[str, object], splink: dict[str, object]) -> dict[str, bool]:
    """Issue 3's targets at synth scale (1M/100k is the size they are set for)."""
    return {
        "wrongful_rate_at_most_0.1pct": _number(ours["wrongful_rate"]) <= 0.001,
        "recall_at_least_splink": _number(ours["recall"]) >= _number(splink["recall"]),
        "address_status_accuracy_at_least_0.97": _number(ours["address_status_accuracy"]) >= 0.97,
        "time_at_most_third_of_splink": _number(ours["seconds"]) <= _number(splink["seconds"]) / 3,
        "peak_rss_at_most_splink": _number(ours["peak_rss_mib"]) <= _number(splink["peak_rss_mib"]),
    }


def febrl_targets(ours: dict[str, object]) -> dict[str, bool]:
    """Issue 3's FEBRL4 targets: precision 1.0 and recall >= 0.99."""
    return {
        "precision_1": _number(ours["precision"]) == 1.0,
        "recall_at_least_0.99": _number(ours["recall"]) >= 0.99,
    }


def run_linkage_bench(
    persons: int,
    requests: int,
    seed: int,
    workdir: Path,
    results: Path,
    *,
    datasets: Sequence[str] = DATASETS,
    progress: Progress | None = None,
) -> dict[str, object]:
    """Run custodes and Splink on every data set and write the JSON reports (module doc)."""
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise ValueError(f"unknown data set(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    say = progress or (lambda _msg: None)
    tag = f"linkage-{persons}-{requests}-s{seed}"
    workdir.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    log = workdir / "bench.log"
    load_at_start = os.getloadavg()
    summary_sets: dict[str, object] = {}
    for dataset in datasets:
        data = _data_dir(dataset, persons, requests, seed, workdir)
        say(f"{dataset}: preparing {data}")
        prepared = _prepare(
            dataset, data, persons=persons, requests=requests, seed=seed, env=dict(os.environ), log=log
        )
        work = workdir / tag / dataset
        work.mkdir(parents=True, exist_ok=True)
        truth = data / "truth.csv"

        say(f"{dataset}: custodes (init, master load, verify)")
        stages, custodes_wait4, custodes_decisions = _run_custodes(data, work, log)
        timed = [s for s in stages if s.stage in {"master_load", "verify"}]
        runs: dict[str, tuple[list[StageRun], dict[str, float], Path]] = {
            "custodes": (stages, custodes_wait4, custodes_decisions)
        }
        say(f"{dataset}: Splink")
        splink_run, splink_wait4, splink_out = _run_splink(data, work, seed, log)
        runs["splink"] = ([splink_run], splink_wait4, splink_out / "decisions.parquet")
        runs["splink_margin"] = ([splink_run], splink_wait4, splink_out / "decisions-margin.parquet")
        splink_details = json.loads((splink_out / "run.json").read_text(encoding="utf-8"))

        headlines: dict[str, dict[str, object]] = {}
        for system, (system_stages, wait4, decisions) in runs.items():
            counted = timed if system == "custodes" else system_stages
            report: dict[str, object] = {
                "benchmark": "linkage",
                "dataset": dataset,
                "system": system,
                "persons": persons if dataset == "synth" else None,
                "requests": requests if dataset == "synth" else None,
                "seed": seed,
                "data": str(data),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "stages": [
                    {**asdict(s), "wait4_maxrss_mib": wait4.get(s.stage)} for s in (*prepared, *system_stages)
                ],
                "seconds": round(sum(s.seconds for s in counted), 2),
                "peak_rss_mib": max(s.peak_rss_mib for s in counted),
                "quality": score(truth, decisions),
                "wrongful_breakdown": wrongful_breakdown(truth, decisions),
            }
            if system != "custodes":
                report["splink"] = splink_details
            (results / f"{tag}-{dataset}-{system}.json").write_text(
                json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
            headlines[system] = _headline(report)
            say(
                f"{dataset}: {system}: {report['seconds']} s, {report['peak_rss_mib']} MiB, "
                f"recall {headlines[system]['recall']}, wrongful {headlines[system]['wrongful_disclosures']}"
            )
        entry: dict[str, object] = {
            "load_average_1_5_15_after": os.getloadavg(),
            "systems": headlines,
            "ratios_custodes_over": {
                "splink": ratios(headlines["custodes"], headlines["splink"]),
                "splink_margin": ratios(headlines["custodes"], headlines["splink_margin"]),
            },
        }
        if dataset == "synth":
            entry["targets"] = synth_targets(headlines["custodes"], headlines["splink"])
        elif dataset.startswith("febrl4"):
            entry["targets"] = febrl_targets(headlines["custodes"])
        summary_sets[dataset] = entry

    summary: dict[str, object] = {
        "benchmark": "linkage",
        "persons": persons,
        "requests": requests,
        "seed": seed,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "load_average_1_5_15": {"start": load_at_start, "end": os.getloadavg()},
        "custodes_time": "master load + verify (init excluded)",
        "splink_time": "the whole Splink process: read, clean, train, predict, decide, write",
        "splink_config": asdict(SplinkConfig(seed=seed)),
        "datasets": summary_sets,
    }
    (results / f"{tag}.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return summary
