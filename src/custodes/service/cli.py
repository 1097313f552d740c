"""The service's commands: ``db upgrade``, ``serve``, ``agency``, ``staff``, ``key``, ``basis``.

Administration commands act directly on the store (whoever runs them holds the database
credentials); each act is appended to the accounting log. Registering a standing basis
names the policy_admin who does it, and Cedar checks that person's role.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from custodes.config import load_settings
from custodes.errors import UserInputError

if TYPE_CHECKING:
    from custodes.service.desk import Desk

console = Console(stderr=True)
out = Console()

db_app = typer.Typer(help="The operational store's schema.", no_args_is_help=True)
agency_app = typer.Typer(help="Requesting agencies.", no_args_is_help=True)
staff_app = typer.Typer(help="The custodian's staff and their roles.", no_args_is_help=True)
key_app = typer.Typer(help="API keys (only a hash is stored; a key is shown once).", no_args_is_help=True)
basis_app = typer.Typer(
    help="Bases: register a standing basis for online verification; suspend, lift and list suspensions.",
    no_args_is_help=True,
)


def _desk() -> Desk:
    from custodes.gateway import open_gateway
    from custodes.service.desk import Desk

    return Desk(open_gateway())


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserInputError(
            f"{text!r} is not a date or time",
            column="expires",
            hint="write it as YYYY-MM-DD or an RFC 3339 time",
        ) from exc
    if len(text) == 10:
        parsed = datetime.combine(parsed.date(), time(0, 0), tzinfo=UTC)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the store's schema (Alembic) at CUSTODES_DATABASE_URL or the SQLite default."""
    from custodes.store import upgrade
    from custodes.store.engine import connect

    settings = load_settings()
    upgrade(settings.store_url)
    engine = connect(settings.store_url)
    try:
        where = engine.url.render_as_string(hide_password=True)
        out.print(f"[green]✓[/green] store at {where} is at the newest schema")
    finally:
        engine.dispose()


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: [service] host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: [service] port).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Server processes on the port (default: [service] workers).")
    ] = None,
) -> None:
    """Run the HTTP API, the reviewer UI and the background batch worker under uvicorn.

    With ``[service] decider`` (the default), online verifications are decided in one process
    of their own that the server processes send their subjects to (docs/service.md).
    """
    import uvicorn

    settings = load_settings()

    def run() -> None:
        uvicorn.run(
            "custodes.service.api:app_from_environment",
            factory=True,
            host=host or settings.service.host,
            port=port or settings.service.port,
            workers=workers or settings.service.workers,
            log_level="info",
        )

    if not settings.service.decider:
        run()
        return
    from custodes.service.decider import started_decider

    # uvicorn raises SIGTERM again once it has shut down; as SystemExit it unwinds through
    # the `with` below, which stops the decider, instead of ending the process where it stands
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with started_decider() as address:
        # the server processes (and uvicorn's reloads of them) find the decider here
        os.environ["CUSTODES_DECIDER_SOCKET"] = address
        try:
            run()
        finally:
            os.environ.pop("CUSTODES_DECIDER_SOCKET", None)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@agency_app.command("add")
def agency_add(
    name: Annotated[str, typer.Argument(help="The agency's name, as its manifests spell it.")],
) -> None:
    """Register a requesting agency."""
    desk = _desk()
    try:
        desk.add_agency(name)
    finally:
        desk.gateway.close()
    out.print(f"[green]✓[/green] agency {name!r} registered")


@staff_app.command("add")
def staff_add(
    name: Annotated[str, typer.Argument(help="The person's name.")],
    role: Annotated[str, typer.Option(help="disclosure_officer, auditor, policy_admin or oversight.")],
) -> None:
    """Register a staff member with one role."""
    desk = _desk()
    try:
        desk.add_staff(name, role)
    finally:
        desk.gateway.close()
    out.print(f"[green]✓[/green] {name} is a {role}")


@key_app.command("issue")
def key_issue(
    agency: Annotated[str | None, typer.Option(help="Issue an agency key for this agency.")] = None,
    role: Annotated[str | None, typer.Option(help="An agency key's role (submitter).")] = None,
    staff: Annotated[str | None, typer.Option(help="Issue a key to this staff member (their role).")] = None,
    holder: Annotated[str | None, typer.Option(help="The person an agency key is issued to.")] = None,
    expires: Annotated[
        str | None, typer.Option(help="Expiry, YYYY-MM-DD or RFC 3339 (default: never).")
    ] = None,
) -> None:
    """Issue an API key and print it once; only its argon2 hash is stored."""
    desk = _desk()
    try:
        key_id, key = desk.issue_key(
            agency=agency, staff=staff, role=role, holder=holder, expires_at=_expiry(expires)
        )
    finally:
        desk.gateway.close()
    console.print(f"key id {key_id}: store the key now, it cannot be shown again")
    print(key)


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the 16 hex digits after cus_).")],
) -> None:
    """Revoke an API key at once."""
    desk = _desk()
    try:
        desk.revoke_key(key_id)
    finally:
        desk.gateway.close()
    out.print(f"[green]✓[/green] key {key_id} revoked")


@basis_app.command("register")
def basis_register(  # noqa: PLR0917 - a command's options
    basis_id: Annotated[str, typer.Option("--id", help="A name for the basis, e.g. DHS-ONLINE-2026.")],
    agency: Annotated[str, typer.Option(help="The agency allowed to verify under it.")],
    legal_basis: Annotated[str, typer.Option(help="26 USC 6103(i)(2) or 26 USC 6103(i)(1).")],
    statutory_authority: Annotated[str, typer.Option(help="The non-tax federal criminal statute.")],
    taxable_period: Annotated[list[str], typer.Option(help="A tax year (repeat for each).")],
    reason: Annotated[str, typer.Option(help="The specific reason the disclosure is relevant.")],
    signer_name: Annotated[str, typer.Option(help="Who signed the request.")],
    signer_title: Annotated[str, typer.Option(help="The signer's title.")],
    expires: Annotated[str, typer.Option(help="When the basis ends, YYYY-MM-DD or RFC 3339.")],
    registered_by: Annotated[str, typer.Option("--by", help="The policy_admin registering it.")],
    profile: Annotated[str, typer.Option(help="verify_only or address_of_record.")] = "verify_only",
) -> None:
    """Register a standing basis for online verification (by a policy_admin; judged by the legal checks)."""
    from custodes.service.desk import LEGAL_BASES, PROFILES
    from custodes.service.records import StandingBasis

    if profile not in PROFILES:
        raise UserInputError(
            f"{profile!r} is not a disclosure profile", column="profile", hint=f"use one of {PROFILES}"
        )
    if legal_basis not in LEGAL_BASES:
        raise UserInputError(
            f"{legal_basis!r} is not a legal basis", column="legal_basis", hint=f"use one of {LEGAL_BASES}"
        )
    expires_at = _expiry(expires)
    assert expires_at is not None
    desk = _desk()
    try:
        desk.register_basis(
            StandingBasis(
                id=basis_id,
                agency=agency,
                legal_basis=legal_basis,
                statutory_authority=statutory_authority,
                taxable_periods=tuple(taxable_period),
                reason=reason,
                signer_name=signer_name,
                signer_title=signer_title,
                disclosure_profile=profile,
                expires_at=expires_at,
                registered_by=registered_by,
            )
        )
    finally:
        desk.gateway.close()
    out.print(
        f"[green]✓[/green] standing basis {basis_id!r} registered for {agency} until {expires_at.isoformat()}"
    )


def mount(app: typer.Typer) -> None:
    """Add the service's commands to the ``custodes`` app."""
    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.add_typer(agency_app, name="agency")
    app.add_typer(staff_app, name="staff")
    app.add_typer(key_app, name="key")
    app.add_typer(basis_app, name="basis")
