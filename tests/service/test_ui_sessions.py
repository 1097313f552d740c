"""Reviewer UI sessions live in the store: every server process knows them, and they end with their key."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import select

from custodes.service.api import create_app
from custodes.service.keys import key_id_of
from custodes.service.ui import LOGIN_COOKIE, SESSION_COOKIE
from custodes.store.schema import ui_sessions
from tests.service.conftest import World

OFFICER = "Dana Reyes"


def log_in(client: TestClient, key: str) -> str:
    """Log in through the form; returns the session cookie's token."""
    assert client.get("/ui/login").status_code == 200
    csrf = client.cookies[LOGIN_COOKIE]
    answer = client.post("/ui/login", data={"api_key": key, "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    return str(answer.cookies[SESSION_COOKIE])


def test_a_session_opened_by_one_server_process_is_known_to_another(world: World) -> None:
    token = log_in(world.client, world.keys[OFFICER])
    other = create_app(world.settings, worker=False)  # a second process on the same store
    with TestClient(other) as second:
        second.cookies.set(SESSION_COOKIE, token, path="/ui")
        page = second.get("/ui/", follow_redirects=False)
        assert page.status_code == 200
        assert OFFICER in page.text
        # logging out on the first ends it on the second
        csrf = _csrf_of(world, token)
        world.client.cookies.set(SESSION_COOKIE, token, path="/ui")
        out = world.client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert second.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"


def test_the_store_keeps_only_a_digest_of_the_session_token(world: World) -> None:
    token = log_in(world.client, world.keys[OFFICER])
    with world.desk.engine.connect() as conn:
        rows = conn.execute(select(ui_sessions.c.token_sha256, ui_sessions.c.key_id)).all()
    assert [tuple(r) for r in rows] == [
        (hashlib.sha256(token.encode()).hexdigest(), key_id_of(world.keys[OFFICER]))
    ]


def test_revoking_the_key_ends_its_sessions(world: World) -> None:
    token = log_in(world.client, world.keys[OFFICER])
    world.client.cookies.set(SESSION_COOKIE, token, path="/ui")
    assert world.client.get("/ui/", follow_redirects=False).status_code == 200
    key_id = key_id_of(world.keys[OFFICER])
    assert key_id is not None
    world.desk.revoke_key(key_id)
    assert world.client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"


def test_an_unknown_or_overlong_session_token_is_no_session(world: World) -> None:
    for token in ("not-a-session", "x" * 5000):
        world.client.cookies.set(SESSION_COOKIE, token, path="/ui")
        assert world.client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"


def _csrf_of(world: World, token: str) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with world.desk.engine.connect() as conn:
        found = conn.execute(select(ui_sessions.c.csrf).where(ui_sessions.c.token_sha256 == digest))
        return str(found.scalar_one())
