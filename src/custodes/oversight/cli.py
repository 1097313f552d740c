"""``custodes report|basis|remediate|policy|budget ...``: oversight on the command line.

Mounted by ``custodes.cli``. Reports go to ``--out`` or stdout as JSON, CSV or a standalone
HTML page. Bad input exits with code 2 (``UserInputError``), any other custodes error with 1.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from custodes.config import Settings, load_settings
from custodes.errors import UserInputError
from custodes.ledger import LedgerKeys, load_keys

# one `custodes basis` group: the service registers standing bases, oversight suspends and lifts them
from custodes.service.cli import basis_app
from custodes.store import connect

report_app = typer.Typer(help="Oversight reports: per taxpayer, aggregate, per batch.", no_args_is_help=True)
policy_app = typer.Typer(help="Policy versions: the rules batches are decided under.", no_args_is_help=True)
budget_app = typer.Typer(help="Query budgets against repeated-query (oracle) attacks.", no_args_is_help=True)

err = Console(stderr=True, soft_wrap=True)
out = Console()
Format = Literal["json", "csv", "html"]
FormatOption = Annotated[Format, typer.Option("--format", help="json, csv (the main table) or html.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")]


@dataclass
class _Context:
    settings: Settings
    engine: Engine

    def keys(self) -> LedgerKeys | None:
        return load_keys(self.settings.home, self.settings.log_origin) if self.settings.accounting else None


@contextmanager
def _context() -> Iterator[_Context]:
    settings = load_settings()
    engine = connect(settings.store_url)
    try:
        yield _Context(settings, engine)
    finally:
        engine.dispose()


def parse_when(text: str, flag: str, *, end_of_day: bool = False) -> datetime:
    """A date (YYYY-MM-DD) or RFC 3339 time as an aware UTC datetime; a date alone is midnight UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(), UTC)
            return start + timedelta(days=1) if end_of_day else start
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UserInputError(
            f"{text!r} is not a date", column=flag, hint="use YYYY-MM-DD or 2026-11-25T12:00:00Z"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _emit(report: dict[str, object], fmt: Format, path: Path | None) -> None:
    from custodes.oversight.render import render  # noqa: PLC0415

    text = render(report, fmt)
    if path is None:
        print(text, end="")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    err.print(f"[green]✓[/green] {report['report']} report ({fmt}) -> {path}")


# -- reports -----------------------------------------------------------------------------
@report_app.command("taxpayer")
def report_taxpayer(
    tin: Annotated[str, typer.Option("--tin", help="The taxpayer's TIN (9 digits).")],
    fmt: FormatOption = "html",
    path: OutOption = None,
) -> None:
    """Every act about one taxpayer, each with its verified inclusion proof (6103(p)(3)(A))."""
    from custodes.oversight.reports import taxpayer_report  # noqa: PLC0415

    with _context() as ctx, ctx.engine.connect() as conn:
        keys = load_keys(ctx.settings.home, ctx.settings.log_origin)
        _emit(taxpayer_report(conn, keys, tin), fmt, path)


@report_app.command("aggregate")
def report_aggregate(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or time of the period.")],
    end: Annotated[str, typer.Option("--to", help="Last day of the period (inclusive), or an end time.")],
    fmt: FormatOption = "html",
    path: OutOption = None,
) -> None:
    """Requests by agency, basis, statute, outcome and refusal reason for a period (the JCT report)."""
    from custodes.oversight.reports import aggregate_report  # noqa: PLC0415

    begin, finish = parse_when(start, "--from"), parse_when(end, "--to", end_of_day=True)
    with _context() as ctx, ctx.engine.connect() as conn:
        _emit(aggregate_report(conn, begin, finish), fmt, path)


@report_app.command("batch")
def report_batch(
    batch: Annotated[str, typer.Option("--batch", help="The batch id.")],
    agency: Annotated[str | None, typer.Option(help="The agency, when two used the same batch id.")] = None,
    fmt: FormatOption = "html",
    path: OutOption = None,
) -> None:
    """One batch: manifest, legal checks, outcome counts, evidence on ambiguous and refused rows."""
    from custodes.oversight.reports import batch_report  # noqa: PLC0415

    with _context() as ctx, ctx.engine.connect() as conn:
        _emit(batch_report(conn, ctx.settings, batch, agency), fmt, path)


# -- suspension --------------------------------------------------------------------------
@basis_app.command("suspend")
def basis_suspend(  # noqa: PLR0917 - a command's options
    reason: Annotated[str, typer.Option(help="Why (the oversight finding).")],
    reference: Annotated[str, typer.Option(help="The finding's, order's or memo's reference.")],
    by: Annotated[str, typer.Option("--by", help="Who suspends (name and role).")],
    basis: Annotated[str | None, typer.Option(help="The legal basis, e.g. '26 USC 6103(i)(2)'.")] = None,
    agency: Annotated[str | None, typer.Option(help="The agency (alone: the whole agency).")] = None,
    standing_basis: Annotated[str | None, typer.Option(help="A standing basis id (online requests).")] = None,
) -> None:
    """Suspend a basis, an agency, or both together; unreleased batches in scope are held."""
    from custodes.oversight.suspension import suspend  # noqa: PLC0415

    with _context() as ctx, ctx.engine.begin() as conn:
        done = suspend(
            conn,
            ctx.keys(),
            agency=agency,
            legal_basis=basis,
            standing_basis=standing_basis,
            reason=reason,
            reference=reference,
            by=by,
            at=datetime.now(UTC),
            hold_unreleased=ctx.settings.oversight.hold_unreleased,
        )
    out.print(f"[red]suspended[/red] #{done.id}: {done.scope} (log entry {done.ledger_index})")
    held = ", ".join(done.held_batches) or "none"
    out.print(f"held batches: {held}")


@basis_app.command("lift")
def basis_lift(
    suspension_id: Annotated[
        int, typer.Argument(help="The suspension's number (see `custodes basis list`).")
    ],
    reason: Annotated[str, typer.Option(help="Why it is lifted.")],
    reference: Annotated[str, typer.Option(help="The decision's reference.")],
    by: Annotated[str, typer.Option("--by", help="Who lifts (name and role).")],
) -> None:
    """Lift a suspension; batches it held are released from hold unless another suspension covers them."""
    from custodes.oversight.suspension import lift  # noqa: PLC0415

    with _context() as ctx, ctx.engine.begin() as conn:
        done = lift(
            conn, ctx.keys(), suspension_id, reason=reason, reference=reference, by=by, at=datetime.now(UTC)
        )
    out.print(f"[green]lifted[/green] #{done.id}: {done.scope}")


@basis_app.command("list")
def basis_list(active: Annotated[bool, typer.Option(help="Only suspensions in force.")] = False) -> None:
    """Every suspension, with its scope, reason, reference and state."""
    from custodes.oversight.suspension import list_suspensions  # noqa: PLC0415

    with _context() as ctx, ctx.engine.connect() as conn:
        found = list_suspensions(conn, active_only=active)
    table = Table(title="suspensions")
    for column in ("#", "scope", "reason", "reference", "by", "since", "lifted", "log entry"):
        table.add_column(column)
    for s in found:
        table.add_row(
            str(s.id),
            s.scope,
            s.reason,
            s.reference,
            s.suspended_by,
            s.suspended_at.isoformat(),
            s.lifted_at.isoformat() if s.lifted_at else "in force",
            str(s.ledger_index),
        )
    out.print(table)


# -- remediation -------------------------------------------------------------------------
def remediate_command(  # noqa: PLR0917 - a command's options
    policy_version: Annotated[str, typer.Option(help="The corrected policy (`custodes policy list`).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for remediation.{json,csv,html}.")],
    batch: Annotated[str | None, typer.Option(help="Replay this batch.")] = None,
    since: Annotated[str | None, typer.Option(help="Replay every batch received since this date.")] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency's batches.")] = None,
    notice_file: Annotated[
        Path | None, typer.Option(help="Also write the unmasked notice list (TINs in clear, custodian only).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Replay and report, but record nothing.")] = False,
) -> None:
    """Replay past decisions under a corrected policy; report what would not be disclosed today."""
    from custodes.gateway import Gateway  # noqa: PLC0415
    from custodes.oversight.remediation import record_remediation, replay  # noqa: PLC0415
    from custodes.oversight.render import render  # noqa: PLC0415
    from custodes.oversight.reports import remediation_report  # noqa: PLC0415

    started = None if since is None else parse_when(since, "--since")
    with _context() as ctx:
        gateway = Gateway(ctx.settings)
        keys = ctx.keys()
        try:
            with ctx.engine.begin() as conn, err.status("replaying…") as status:
                run = replay(
                    gateway,
                    conn,
                    policy=policy_version,
                    batch_id=batch,
                    agency=agency,
                    since=started,
                    now=datetime.now(UTC),
                    keys=keys,
                    progress=status.update,
                )
                if not dry_run:
                    record_remediation(conn, keys, run)
        finally:
            gateway.close()
    report = remediation_report(run)
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt in ("json", "csv", "html"):
        (out_dir / f"remediation.{fmt}").write_text(render(report, fmt), encoding="utf-8")
    if notice_file is not None:
        with notice_file.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["tin", "agency", "batch_id", "request_id", "replay_outcome", "replay_reason"])
            writer.writerows(
                run.findings.select(
                    "tin", "agency", "batch_id", "request_id", "replay_outcome", "replay_reason"
                )
                .sort("tin", "agency", "batch_id", "request_id")
                .iter_rows()
            )
    out.print(
        f"replayed {run.replayed:,} requests in {len(run.batches)} batches under {run.policy_version}: "
        f"{run.affected:,} of {run.disclosures:,} disclosures would not be made today"
    )
    out.print(
        f"civil exposure at ${run.damages_per_act:,} per act (26 USC 7431): "
        f"[bold]${run.exposure_usd:,}[/bold]"
    )
    changed = [b.batch_id for b in run.batches if b.master_changed]
    if changed:
        out.print(f"[yellow]note:[/yellow] the master file changed since {', '.join(changed)} was decided")
    out.print(
        "recorded nothing (dry run)"
        if dry_run
        else f"remediation #{run.id} appended to the log (entry {run.ledger_index})"
    )
    out.print(f"report -> {out_dir}/remediation.{{json,csv,html}}")


# -- policies ----------------------------------------------------------------------------
@policy_app.command("list")
def policy_list() -> None:
    """Every stored policy version, oldest first, and the one in force now."""
    from sqlalchemy import select  # noqa: PLC0415

    from custodes.oversight.policy import policy_document, policy_version  # noqa: PLC0415
    from custodes.oversight.tables import policies  # noqa: PLC0415

    with _context() as ctx, ctx.engine.connect() as conn:
        rows = conn.execute(
            select(policies.c.version, policies.c.name, policies.c.created_at).order_by(policies.c.created_at)
        ).all()
        current = policy_version(policy_document(ctx.settings))
    table = Table(title="policy versions")
    for column in ("version", "name", "stored at", ""):
        table.add_column(column)
    for version, name, created in rows:
        table.add_row(version, name, created.isoformat(), "in force" if version == current else "")
    out.print(table)
    out.print(f"in force now: {current}")


@policy_app.command("register")
def policy_register(
    file: Annotated[Path, typer.Argument(help="A TOML file with [bases.*], [linkage] and agencies.")],
    name: Annotated[str, typer.Option(help="A name for people, e.g. 'court ruling 2026-03'.")],
) -> None:
    """Store a policy (e.g. a corrected rule) and print its version for `custodes remediate`."""
    from custodes.oversight.policy import policy_from_file, register_policy  # noqa: PLC0415

    with _context() as ctx, ctx.engine.begin() as conn:
        version = register_policy(conn, policy_from_file(ctx.settings, file), name)
    print(version)


# -- budgets -----------------------------------------------------------------------------
@budget_app.command("show")
def budget_show(
    agency: Annotated[str, typer.Option(help="The agency.")],
    since: Annotated[str | None, typer.Option(help="From this date (default: the budget window).")] = None,
    minimum: Annotated[int, typer.Option(min=1, help="Show subjects asked about at least this often.")] = 2,
    fmt: FormatOption = "html",
    path: OutOption = None,
) -> None:
    """Subjects an agency asked about repeatedly (near-variants grouped), with answered and refused counts."""
    from custodes.oversight.reports import budget_report  # noqa: PLC0415

    with _context() as ctx, ctx.engine.connect() as conn:
        start = (
            parse_when(since, "--since")
            if since
            else datetime.now(UTC) - timedelta(days=ctx.settings.budgets.window_days)
        )
        _emit(budget_report(conn, ctx.settings, agency, start, minimum), fmt, path)


def bench_oversight(  # noqa: PLR0917 - a command's options
    entries: Annotated[
        int, typer.Option(min=1, help="Accounting entries for the aggregate report.")
    ] = 10_000_000,
    persons: Annotated[int, typer.Option(min=1, help="Master file size for the replay.")] = 1_000_000,
    requests: Annotated[int, typer.Option(min=1, help="Batch size replayed.")] = 100_000,
    workdir: Annotated[Path, typer.Option(help="Scratch space.")] = Path("bench/data/oversight"),
    results: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = Path("bench/results"),
    part: Annotated[
        list[str] | None,
        typer.Option(help="aggregate or replay (repeatable); default: both."),
    ] = None,
) -> None:
    """The aggregate report over N accounting entries, and the replay of a batch of M requests."""
    from custodes.bench.oversight import run_oversight_bench  # noqa: PLC0415

    parts = tuple(dict.fromkeys(part)) if part else ("aggregate", "replay")
    if set(parts) - {"aggregate", "replay"}:
        raise typer.BadParameter(f"{', '.join(parts)}: name aggregate and/or replay", param_hint="--part")
    report = run_oversight_bench(
        entries, persons, requests, workdir, results, progress=err.print, parts=parts
    )
    print(json.dumps(report, indent=2))


def mount(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Mount the oversight commands on the ``custodes`` app."""
    app.add_typer(report_app, name="report")
    app.add_typer(policy_app, name="policy")
    app.add_typer(budget_app, name="budget")
    app.command("remediate")(remediate_command)
    bench_app.command("oversight")(bench_oversight)
