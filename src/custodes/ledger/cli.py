"""``custodes ledger ...`` and ``custodes witness ...``: the accounting log on the command line.

Mounted by ``custodes.cli``. JSON output is plain ``json.dumps`` on stdout; everything for
people goes through Rich. Any ledger error exits with code 1 and says what to do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from custodes.config import Settings, load_settings
from custodes.errors import CustodesError
from custodes.ledger import store
from custodes.ledger.audit import audit_log
from custodes.ledger.keys import load_keys
from custodes.ledger.publish import configured_witnesses, cosigned_note, publish
from custodes.ledger.reader import accounting_for, consistency_between, prove_request
from custodes.ledger.verify import parse_vkey
from custodes.ledger.witness import (
    Witness,
    WitnessStore,
    load_or_create_witness_key,
)
from custodes.ledger.witness import (
    witness_app as make_witness_app,
)
from custodes.store import connect

ledger_app = typer.Typer(
    help="The accounting log: checkpoints, proofs, a taxpayer's accounting, audit, witnessing.",
    no_args_is_help=True,
)
witness_app = typer.Typer(help="A C2SP tlog-witness, run by an oversight body.", no_args_is_help=True)

err = Console(stderr=True, soft_wrap=True)
out = Console()
Format = Literal["json", "text"]


@contextmanager
def _store() -> Iterator[tuple[Settings, Engine]]:
    settings = load_settings()
    engine = connect(settings.store_url)
    try:
        yield settings, engine
    except (OperationalError, ProgrammingError) as exc:
        _fail(f"the store at {settings.store_url} has no ledger tables ({exc.orig}): run `custodes init`")
    except CustodesError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()


def _fail(message: str) -> None:
    # Escaped: messages name settings tables such as [witness], which Rich would take as markup.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(1)


@ledger_app.command("checkpoint")
def checkpoint_command() -> None:
    """Print the newest signed checkpoint, with every witness cosignature stored for it."""
    with _store() as (settings, engine):
        print(cosigned_note(engine, settings.log_origin), end="")


@ledger_app.command("public-key")
def public_key_command() -> None:
    """Print the log's verifier key (name+keyid+base64(0x01||key)) for overseers."""
    settings = load_settings()
    try:
        print(load_keys(settings.home, settings.log_origin).verifier.vkey)
    except CustodesError as exc:
        _fail(str(exc))


@ledger_app.command("prove")
def prove_command(
    batch: Annotated[str, typer.Option("--batch", help="The batch id.")],
    request_id: Annotated[str, typer.Option("--request-id", help="The request id within the batch.")],
    agency: Annotated[str | None, typer.Option(help="The agency, when two used the same batch id.")] = None,
    output: Annotated[Format, typer.Option("--format", help="json or text.")] = "json",
) -> None:
    """The inclusion proof of one decision under the newest checkpoint."""
    with _store() as (settings, engine), engine.connect() as conn:
        bundle = prove_request(conn, settings.log_origin, batch, request_id, agency)
    if output == "json":
        print(json.dumps(bundle))
        return
    out.print(f"entry [bold]{bundle['leaf_index']}[/bold] of a tree of {bundle['tree_size']}")
    out.print(json.loads(_entry(bundle)))
    out.print(f"inclusion path: {len(bundle['inclusion_path'])} hashes")  # type: ignore[arg-type]


def _entry(bundle: dict[str, object]) -> bytes:
    return base64.b64decode(str(bundle["entry_b64"]))


@ledger_app.command("consistency")
def consistency_command(
    old: Annotated[int, typer.Option("--from", help="The older tree size.")],
    new: Annotated[int | None, typer.Option("--to", help="The newer tree size (default: newest).")] = None,
    output: Annotated[Format, typer.Option("--format", help="json or text.")] = "json",
) -> None:
    """The consistency proof that the tree of size FROM is a prefix of the tree of size TO."""
    with _store() as (settings, engine), engine.connect() as conn:
        bundle = consistency_between(conn, settings.log_origin, old, new)
    if output == "json":
        print(json.dumps(bundle))
        return
    out.print(f"size {bundle['from']} (root {bundle['root_from']}) is a prefix of")
    out.print(f"size {bundle['to']} (root {bundle['root_to']}): {len(bundle['proof'])} hashes")  # type: ignore[arg-type]


@ledger_app.command("accounting")
def accounting_command(
    tin: Annotated[str, typer.Option("--tin", help="The taxpayer's TIN (9 digits).")],
    output: Annotated[Format, typer.Option("--format", help="json or text.")] = "text",
) -> None:
    """Every act about one taxpayer, each with its inclusion proof (6103(p)(3)(A))."""
    with _store() as (settings, engine), engine.connect() as conn:
        bundle = accounting_for(conn, load_keys(settings.home, settings.log_origin), tin)
    if output == "json":
        print(json.dumps(bundle))
        return
    acts = bundle["acts"]
    assert isinstance(acts, list)
    table = Table(title=f"Accounting for taxpayer commitment {str(bundle['taxpayer'])[:16]}…")
    for column in ("index", "when", "type", "agency", "batch", "request", "outcome", "reason"):
        table.add_column(column)
    for act in acts:
        entry = json.loads(_entry(act))
        kind = str(entry.get("type"))
        cells = [
            str(act["leaf_index"]),
            str(entry.get("at", "")),
            kind if kind != "event" else str(entry.get("event")),
            *(str(entry.get(key, "")) for key in ("agency", "batch_id", "request_id", "outcome", "reason")),
        ]
        # Agencies choose batch and request ids; print them as text, never as Rich markup.
        table.add_row(*map(escape, cells))
    out.print(table)
    out.print(f"{len(acts)} acts, each proven under the checkpoint of tree size {bundle['tree_size']}")


@ledger_app.command("audit")
def audit_command() -> None:
    """Recompute the log from its entries and check it against every signed checkpoint."""
    with _store() as (settings, engine), store.snapshot(engine) as conn:
        keys = load_keys(settings.home, settings.log_origin)
        with err.status("auditing the accounting log…"):
            result = audit_log(conn, keys.verifier)
    if result.ok:
        out.print(
            f"[green]✓[/green] audit passed: {result.entries} entries, {result.checkpoints} checkpoints"
        )
        return
    where = "" if result.first_bad_index is None else f"first bad index {result.first_bad_index}: "
    err.print(f"[red]✗ audit failed[/red]: {escape(where + str(result.problem))}", highlight=False)
    raise typer.Exit(1)


@ledger_app.command("publish")
def publish_command() -> None:
    """Deliver every checkpoint the witnesses have not cosigned, and store their cosignatures."""
    with _store() as (settings, engine):
        configured, quorum = configured_witnesses(settings.witnessing)
        with err.status("publishing checkpoints to the witnesses…") as status:
            result = publish(
                engine,
                settings.log_origin,
                configured,
                quorum,
                progress=lambda message: status.update(f"publishing: {message}"),
            )
    table = Table(title=f"witnesses (newest checkpoint: tree size {result.checkpoint.size})")
    table.add_column("witness")
    table.add_column("result")
    for outcome in result.outcomes:
        mark = "[green]✓[/green]" if outcome.current else "[red]✗[/red]"
        table.add_row(escape(outcome.witness), f"{mark} {escape(outcome.message)}")
    out.print(table)
    if not result.final:
        _fail(
            f"only {result.cosigners} of the {result.quorum} cosignatures needed on tree size "
            f"{result.checkpoint.size}: the checkpoint is not final"
        )
    out.print(f"[green]✓[/green] final: {result.cosigners} cosignatures (quorum {result.quorum})")


@ledger_app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
) -> None:
    """Serve the log read-only in the C2SP tlog-tiles layout (checkpoint, tiles, entries)."""
    # The server stack is imported only when serving, to keep every other command quick.
    import uvicorn  # noqa: PLC0415

    from custodes.ledger.tiles import tiles_app  # noqa: PLC0415

    settings = load_settings()
    uvicorn.run(tiles_app(connect(settings.store_url), settings.log_origin), host=host, port=port)


@witness_app.command("serve")
def witness_serve_command(
    name: Annotated[
        str | None, typer.Option(help="The witness's name (default: [witness] name in the settings).")
    ] = None,
    log: Annotated[
        list[str] | None,
        typer.Option(help="Verifier key of a log to witness, repeatable (default: [witness] logs)."),
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="State directory (default: [witness] state_dir, or <home>/witness).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8082,
) -> None:
    """Run a tlog-witness: POST /add-checkpoint returns a cosignature (type 0x04)."""
    import uvicorn  # noqa: PLC0415

    try:
        settings = load_settings()
    except CustodesError as exc:
        _fail(str(exc))
    config = settings.witness
    name = name or config.name
    keys = log or list(config.logs)
    directory = state or (Path(config.state_dir) if config.state_dir else settings.home / "witness")
    if not name or not keys:
        _fail(
            "the witness needs a name and at least one log key: set [witness] name and logs in "
            "custodes.toml (or CUSTODES_WITNESS_NAME and CUSTODES_WITNESS_LOGS), or pass --name and --log"
        )
    try:
        logs = [parse_vkey(vkey) for vkey in keys]
        key = load_or_create_witness_key(directory, name)
        witness = Witness(name, key, logs, WitnessStore(directory / "state"))
    except (CustodesError, ValueError) as exc:
        _fail(str(exc))
    err.print(f"witness {name}: cosignature key [bold]{witness.verifier.vkey}[/bold]")
    uvicorn.run(make_witness_app(witness), host=host, port=port)
