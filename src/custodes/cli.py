"""The ``custodes`` command line: parses arguments, calls the Gateway, renders with Rich.

No business logic lives here. Bad input exits with code 2 and a message naming the file,
row and column; any other custodes error exits with code 1.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from custodes.config import load_settings
from custodes.errors import CustodesError, UserInputError

app = typer.Typer(
    name="custodes",
    help="A lawful, precise and auditable disclosure gateway for confidential records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
master_app = typer.Typer(help="The master file and its matching index.", no_args_is_help=True)
app.add_typer(master_app, name="master")

console = Console(stderr=True)
out = Console()


StageReport = Callable[..., None]


@contextmanager
def stage_progress(description: str, stages: int) -> Iterator[StageReport]:
    """A progress bar advanced once per named stage; yields the callback stages report to.

    A caller that learns how many stages there are as it goes passes ``total``.
    """
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=stages)
        started = [time.perf_counter()]

        def report(message: str, /, total: int | None = None) -> None:
            bar.update(task, advance=1, description=message, total=total)
            started.append(time.perf_counter())

        yield report
        bar.update(task, completed=bar.tasks[0].total, description=f"{description}: done")


@app.command()
def init() -> None:
    """Create the embedded store (SQLite + Alembic), the ledger keys and CUSTODES_HOME."""
    from custodes.gateway import open_gateway

    gateway = open_gateway()
    try:
        for line in gateway.init():
            out.print(f"[green]✓[/green] {line}")
    finally:
        gateway.close()


@master_app.command("load")
def master_load(
    file: Annotated[Path, typer.Argument(help="Master file, CSV or Parquet, in the contract's columns.")],
) -> None:
    """Build the matching index from FILE, replacing the previous index atomically."""
    from custodes.gateway import open_gateway

    gateway = open_gateway()
    started = time.perf_counter()
    try:
        with stage_progress("loading master", 7) as report:
            summary = gateway.load_master(file, progress=report)
    finally:
        gateway.close()
    out.print(
        f"[green]✓[/green] {summary.rows:,} rows, {summary.taxpayers:,} taxpayers, "
        f"{summary.addresses:,} addresses "
        f"in {time.perf_counter() - started:.1f} s -> {summary.path}"
    )


@app.command()
def verify(
    requests: Annotated[Path, typer.Argument(help="The request batch, CSV or Parquet.")],
    manifest: Annotated[Path, typer.Option(help="The batch's JSON manifest.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where response.csv and decisions.parquet go.")],
) -> None:
    """Run a batch: intake, legal checks, linkage, disclosure and accounting."""
    from custodes.gateway import open_gateway

    gateway = open_gateway()
    started = time.perf_counter()
    try:
        with stage_progress("verifying", 11) as report:
            result = gateway.verify_batch(requests, manifest, out_dir, progress=report)
    finally:
        gateway.close()
    table = Table(title=f"batch {result.batch_id} from {result.agency}: {result.requests:,} requests")
    table.add_column("outcome")
    table.add_column("reason")
    table.add_column("requests", justify="right")
    table.add_column("share", justify="right")
    for (outcome, reason), n in sorted(result.counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        table.add_row(outcome, reason, f"{n:,}", f"{n / max(result.requests, 1):.1%}")
    out.print(table)
    if result.batch_reason:
        out.print(f"[red]The whole batch was refused:[/red] {result.batch_reason}")
    out.print(f"response  -> {result.response_path}\ndecisions -> {result.decisions_path}")
    out.print(f"done in {time.perf_counter() - started:.1f} s")


@app.command()
def synth(
    persons: Annotated[int, typer.Option(min=1, help="Taxpayers in the master file.")] = 10_000,
    requests: Annotated[int, typer.Option(min=1, help="Requests in the batch.")] = 1_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives byte-identical files.")] = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the generated files.")] = Path(
        "synth-out"
    ),
    fmt: Annotated[
        Literal["csv", "parquet"], typer.Option("--format", help="Master file format.")
    ] = "parquet",
) -> None:
    """Generate a hard synthetic master file, request batch, manifest and truth."""
    from custodes.synth import generate

    started = time.perf_counter()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("synthesising", total=1.0)

        def report(message: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=message)

        summary = generate(persons, requests, seed, out_dir, fmt, progress=report)
    out.print(f"[green]✓[/green] wrote {out_dir} in {time.perf_counter() - started:.1f} s")
    out.print(summary)


@app.command()
def score(
    truth: Annotated[Path, typer.Option(help="truth.csv written by `custodes synth`.")],
    decisions: Annotated[Path, typer.Option(help="decisions.parquet written by `custodes verify`.")],
    as_table: Annotated[bool, typer.Option("--table", help="Also print a readable summary table.")] = False,
) -> None:
    """Score decisions against the truth: precision, recall, wrongful disclosures, per category."""
    from custodes.score import score as run_score

    result = run_score(truth, decisions)
    print(json.dumps(result, indent=2, sort_keys=True))
    if as_table:
        _print_score_table(result)


bench_app = typer.Typer(help="Benchmarks; each writes JSON under bench/results/.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("pipeline")
def bench_pipeline(
    persons: Annotated[int, typer.Option(min=1)] = 1_000_000,
    requests: Annotated[int, typer.Option(min=1)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    workdir: Annotated[Path, typer.Option(help="Scratch space for data, store and outputs.")] = Path(
        "bench/data"
    ),
    results: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = Path("bench/results"),
) -> None:
    """synth -> init -> master load -> verify -> score, each stage timed with its peak RSS."""
    from custodes.bench.pipeline import run_pipeline_bench

    report = run_pipeline_bench(persons, requests, seed, workdir, results)
    print(json.dumps(report, indent=2, sort_keys=True))


@bench_app.command("linkage")
def bench_linkage(  # noqa: PLR0917 - a command's options
    persons: Annotated[int, typer.Option(min=1)] = 1_000_000,
    requests: Annotated[int, typer.Option(min=1)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    workdir: Annotated[Path, typer.Option(help="Scratch space for data, stores and outputs.")] = Path(
        "bench/data"
    ),
    results: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = Path("bench/results"),
    dataset: Annotated[
        list[str] | None,
        typer.Option(help="synth, febrl4, febrl4_tin, febrl3 or pseudopeople (repeatable); default: all."),
    ] = None,
) -> None:
    """custodes and Splink 5 side by side on synth, FEBRL4 and pseudopeople (needs the bench extra)."""
    from custodes.bench.linkage import DATASETS, run_linkage_bench

    report = run_linkage_bench(
        persons, requests, seed, workdir, results, datasets=dataset or DATASETS, progress=console.print
    )
    print(json.dumps(report, indent=2, sort_keys=True))


@bench_app.command("scale")
def bench_scale(
    persons: Annotated[int, typer.Option(min=1)] = 10_000_000,
    requests: Annotated[int, typer.Option(min=1)] = 1_280_000,
    seed: Annotated[int, typer.Option()] = 1,
    workdir: Annotated[Path, typer.Option(help="Scratch space for data, store and outputs.")] = Path(
        "bench/data"
    ),
    results: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = Path("bench/results"),
) -> None:
    """Issue 3's scale run (10M / 1.28M): each stage's time and peak RSS, a table, the targets."""
    from custodes.bench.scale import run_scale_bench

    report = run_scale_bench(persons, requests, seed, workdir, results, console=console)
    print(json.dumps(report, indent=2, sort_keys=True))


@bench_app.command("accounting")
def bench_accounting(  # noqa: PLR0917 - a command's options
    persons: Annotated[int, typer.Option(min=1)] = 1_000_000,
    requests: Annotated[int, typer.Option(min=1)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    repeats: Annotated[int, typer.Option(min=1)] = 3,
    workdir: Annotated[Path, typer.Option(help="The same scratch space as `bench pipeline`.")] = Path(
        "bench/data"
    ),
    results: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = Path("bench/results"),
) -> None:
    """`verify` with the accounting log on and off, alternating; reports the median overhead."""
    from custodes.bench.pipeline import run_accounting_overhead

    print(
        json.dumps(
            run_accounting_overhead(persons, requests, seed, workdir, results, repeats=repeats), indent=2
        )
    )


@bench_app.command("online")
def bench_online(  # noqa: PLR0917 - a command's options
    persons: Annotated[int, typer.Option(min=100)] = 1_000_000,
    seed: Annotated[int, typer.Option()] = 1,
    rate: Annotated[float, typer.Option(min=1, help="Requests per second offered (open loop).")] = 200.0,
    clients: Annotated[int, typer.Option(min=1, help="Concurrent client threads.")] = 50,
    seconds: Annotated[float, typer.Option(min=1, help="Length of each load phase.")] = 30.0,
    workdir: Annotated[Path, typer.Option(help="Scratch space for data and the store.")] = Path("bench/data"),
    results: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = Path("bench/results"),
) -> None:
    """Single subjects through the Gateway at a fixed rate: p50/p99 latency, accounting on and off."""
    from custodes.bench.online import run_online_bench

    print(json.dumps(run_online_bench(persons, seed, workdir, results, rate, clients, seconds), indent=2))


@bench_app.command("ledger")
def bench_ledger(
    results: Annotated[Path, typer.Option("--out", help="Where ledger.json goes.")] = Path("bench/results"),
) -> None:
    """Append throughput, a 1.28M-decision batch and proof times at 10M entries (SQLite, durable)."""
    from custodes.bench.ledger import run_ledger_bench

    print(json.dumps(run_ledger_bench(results), indent=2))


@bench_app.command("service")
def bench_service(  # noqa: PLR0917 - a command's options
    persons: Annotated[int, typer.Option(min=1, help="Taxpayers in the synthetic master.")] = 1_000_000,
    clients: Annotated[int, typer.Option(min=1, help="Most requests in flight (connections).")] = 50,
    seconds: Annotated[float, typer.Option(min=1, help="Measured seconds (after a 3 s warm-up).")] = 30,
    rate: Annotated[
        float, typer.Option(min=0, help="Requests a second, open loop; 0: closed loop at --clients.")
    ] = 200,
    seed: Annotated[int, typer.Option()] = 1,
    workdir: Annotated[Path, typer.Option(help="Scratch space for data and the store.")] = Path("bench/data"),
    results: Annotated[Path, typer.Option("--out", help="Where service-<persons>.json goes.")] = Path(
        "bench/results"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Server processes (custodes serve --workers).")] = 1,
) -> None:
    """Loopback load test of POST /v1/verifications: p50, p99 and throughput at a rate."""
    from custodes.bench.service import run_service_bench

    report = run_service_bench(
        persons, clients, seconds, seed, workdir, results, rate=rate or None, workers=workers
    )
    print(json.dumps(report, indent=2))


def _print_score_table(result: dict[str, object]) -> None:
    headline = Table(title="linkage quality")
    headline.add_column("measure")
    headline.add_column("value", justify="right")
    for key in (
        "n_requests", "precision", "recall", "f1", "wrongful_disclosures", "wrongful_rate",
        "refusal_precision", "refusal_recall", "address_status_accuracy",
    ):  # fmt: skip
        value = result.get(key)
        headline.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(headline)
    per_category = result.get("per_category")
    if isinstance(per_category, dict):
        cats = Table(title="per category")
        columns = ["n", "match_correct", "wrongful", "ambiguous", "no_match", "refused", "recall"]
        cats.add_column("category")
        for col in columns:
            cats.add_column(col, justify="right")
        for name, row in sorted(per_category.items()):
            if isinstance(row, dict):
                cats.add_row(
                    name,
                    *(
                        f"{row.get(c):.3f}" if isinstance(row.get(c), float) else str(row.get(c))
                        for c in columns
                    ),
                )
        console.print(cats)


def _mount_optional() -> None:
    """Mount sub-applications that live beside their modules."""
    from custodes.ledger.cli import ledger_app, witness_app
    from custodes.oversight.cli import mount as mount_oversight
    from custodes.service.cli import mount as mount_service

    app.add_typer(ledger_app, name="ledger")
    app.add_typer(witness_app, name="witness")
    mount_service(app)
    mount_oversight(app, bench_app)


def main() -> None:
    """Console entry point with custodes' exit codes (2: bad input, 1: other errors)."""
    _mount_optional()
    try:
        app()
    except UserInputError as exc:
        console.print(f"[red]error:[/red] {exc.render()}", highlight=False)
        sys.exit(2)
    except CustodesError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)


__all__ = ["app", "load_settings", "main"]
