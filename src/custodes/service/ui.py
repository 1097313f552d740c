"""The reviewer UI: server-rendered pages for disclosure officers (no JavaScript, no CDN).

A staff member logs in with their API key; the session is a random token in an HttpOnly,
SameSite=Strict cookie; the store keeps its SHA-256 digest (table ``ui_sessions``), so every
server process knows every session, and a session ends with its key (revoked or expired).
Every form post carries the session's CSRF token. The pages call the same ``Desk`` methods
as the API, so Cedar decides here too; TINs appear only masked (``***-**-1234``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import delete, insert, select

from custodes.errors import (
    AuthenticationError,
    ConflictError,
    CustodesError,
    NotFoundError,
    PermissionDeniedError,
)
from custodes.service.authz import Caller
from custodes.service.desk import Desk
from custodes.service.records import aware
from custodes.store.schema import ui_sessions

SESSION_COOKIE = "custodes_session"
LOGIN_COOKIE = "custodes_login"
CSP = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"
"""No scripts at all; styles and form posts only to this origin."""


@dataclass(frozen=True)
class Session:
    """A logged-in staff member."""

    caller: Caller
    csrf: str
    expires: datetime


class Sessions:
    """Sessions by token, in the store (``ui_sessions``): shared by every server process."""

    def __init__(self, desk: Desk, lifetime: timedelta) -> None:
        self._desk = desk
        self._lifetime = lifetime

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def open(self, caller: Caller) -> str:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._desk.engine.begin() as conn:
            conn.execute(delete(ui_sessions).where(ui_sessions.c.expires_at <= now))
            conn.execute(
                insert(ui_sessions).values(
                    token_sha256=self._digest(token), key_id=caller.key_id, csrf=secrets.token_urlsafe(32),
                    created_at=now, expires_at=now + self._lifetime,
                )
            )  # fmt: skip
        return token

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        now = datetime.now(UTC)
        with self._desk.engine.connect() as conn:
            row = conn.execute(
                select(ui_sessions.c.key_id, ui_sessions.c.csrf, ui_sessions.c.expires_at).where(
                    ui_sessions.c.token_sha256 == self._digest(token)
                )
            ).first()
        expires = aware(row.expires_at) if row is not None else None
        if row is None or expires is None or expires <= now:
            return None
        try:
            caller = self._desk.caller_of_key(row.key_id, now)
        except AuthenticationError:
            return None  # the key was revoked or expired since the login
        return Session(caller, row.csrf, expires)

    def close(self, token: str | None) -> None:
        if not token:
            return
        with self._desk.engine.begin() as conn:
            conn.execute(delete(ui_sessions).where(ui_sessions.c.token_sha256 == self._digest(token)))


def mount_ui(app: FastAPI, desk: Desk) -> None:
    """Add the reviewer pages under ``/ui`` and their stylesheet under ``/ui/static``."""
    env = Environment(
        loader=PackageLoader("custodes.service", "templates"), autoescape=select_autoescape(["html"])
    )
    sessions = Sessions(desk, timedelta(minutes=desk.settings.service.session_minutes))
    static = resources.files("custodes.service") / "static"
    app.mount("/ui/static", StaticFiles(directory=str(static)), name="ui-static")

    def page(name: str, status: int = 200, **context: object) -> HTMLResponse:
        html = env.get_template(name).render(**context)
        return HTMLResponse(
            html,
            status_code=status,
            headers={
                "Content-Security-Policy": CSP,
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

    def cookie_args(request: Request) -> dict[str, object]:
        return {
            "httponly": True,
            "samesite": "strict",
            "secure": request.url.scheme == "https",
            "path": "/ui",
        }

    def current(request: Request) -> Session | None:
        return sessions.get(request.cookies.get(SESSION_COOKIE))

    def csrf_ok(session: Session, token: str) -> bool:
        return hmac.compare_digest(session.csrf.encode(), token.encode())

    def error_page(session: Session | None, exc: CustodesError) -> HTMLResponse:
        status = {PermissionDeniedError: 403, NotFoundError: 404, ConflictError: 409}.get(type(exc), 400)
        rule = exc.rule if isinstance(exc, PermissionDeniedError) else None
        return page("error.html", status, session=session, message=str(exc), rule=rule)

    @app.get("/ui/login", include_in_schema=False)
    def login_form(request: Request) -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        response = page("login.html", csrf=token, error=None)
        response.set_cookie(LOGIN_COOKIE, token, max_age=600, **cookie_args(request))  # type: ignore[arg-type]
        return response

    @app.post("/ui/login", include_in_schema=False)
    def login(
        request: Request,
        api_key: Annotated[str, Form(max_length=200)],
        csrf: Annotated[str, Form(max_length=100)],
    ) -> Response:
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
            return page("login.html", 400, csrf=expected, error="The form expired; please try again.")
        try:
            caller = desk.authenticate(api_key.strip())
        except AuthenticationError:
            return page(
                "login.html", 401, csrf=expected, error="That key is not valid, has expired or was revoked."
            )
        if not caller.is_staff:
            return page(
                "login.html", 403, csrf=expected, error="The reviewer pages are for the custodian's staff."
            )
        response = RedirectResponse("/ui/", status_code=303)
        response.set_cookie(SESSION_COOKIE, sessions.open(caller), **cookie_args(request))  # type: ignore[arg-type]
        response.delete_cookie(LOGIN_COOKIE, path="/ui")
        return response

    @app.post("/ui/logout", include_in_schema=False)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
        session = current(request)
        if session is not None and csrf_ok(session, csrf):
            sessions.close(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/ui")
        return response

    @app.get("/ui/", include_in_schema=False)
    def batches(request: Request) -> Response:
        session = current(request)
        if session is None:
            return RedirectResponse("/ui/login", status_code=303)
        try:
            waiting = desk.list(session.caller, ["processed"])
            recent = [b for b in desk.list(session.caller) if b["status"] != "processed"][:50]
        except CustodesError as exc:
            return error_page(session, exc)
        return page("batches.html", session=session, waiting=waiting, recent=recent)

    @app.get("/ui/batches/{batch}", include_in_schema=False)
    def batch(request: Request, batch: str) -> Response:
        session = current(request)
        if session is None:
            return RedirectResponse("/ui/login", status_code=303)
        try:
            review = desk.review(session.caller, batch[:64])
        except CustodesError as exc:
            return error_page(session, exc)
        return page("batch.html", session=session, batch=review, notice=request.query_params.get("notice"))

    @app.post("/ui/batches/{batch}/release", include_in_schema=False)
    def release(request: Request, batch: str, csrf: Annotated[str, Form(max_length=100)]) -> Response:
        session = current(request)
        if session is None:
            return RedirectResponse("/ui/login", status_code=303)
        if not csrf_ok(session, csrf):
            return page(
                "error.html", 400, session=session, message="The form's CSRF token is wrong.", rule=None
            )
        try:
            desk.release(session.caller, batch[:64])
        except CustodesError as exc:
            return error_page(session, exc)
        return RedirectResponse(f"/ui/batches/{batch[:64]}?notice=released", status_code=303)
