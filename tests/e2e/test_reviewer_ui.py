"""The reviewer UI in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from custodes import Settings
from custodes.config import ServiceConfig
from custodes.service.api import create_app
from custodes.store import upgrade
from tests.service.conftest import (
    World,
    make_home,
    populate,
    submit,
)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(template_home: Path, tmp_path: Path) -> Iterator[tuple[World, str]]:
    """A service on a loopback port with one processed DHS batch."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"the reviewer UI test needs Chromium at {CHROMIUM}: run `make system-deps` "
            "(or `apt-get install chromium`)"
        )
    settings = Settings(home=make_home(template_home, tmp_path / "home"), service=ServiceConfig())
    upgrade(settings.store_url)
    app = create_app(settings, worker=False)
    keys = populate(app.state.desk)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        world = World(desk=app.state.desk, client=client, keys=keys, settings=settings)
        assert submit(world).status_code == 202
        world.desk.process_next()
        yield world, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_disclosure_officer_logs_in_reviews_masked_rows_and_releases(served: tuple[World, str]) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/ui/")
            assert page.url == f"{base}/ui/login"

            page.fill("#api_key", world.keys["dhs"])
            page.click("button[type=submit]")
            assert "for the custodian's staff" in page.inner_text("main")

            page.fill("#api_key", world.keys["Olu Adeyemi"])
            page.click("button[type=submit]")
            assert page.url == f"{base}/ui/"
            assert "Olu Adeyemi (disclosure_officer)" in page.inner_text("header")
            page.click("#waiting a:has-text('DHS-TEST-1')")

            counts = page.inner_text("#counts")
            assert "ambiguous" in counts
            assert "several_candidates" in counts
            rows = page.inner_text("#rows")
            assert "placeholder_address" in rows
            assert "***-**-6789" in rows  # R3's TIN, masked
            html = page.content()
            for tin in ("523456789", "623456789", "52345678"):
                assert tin not in html
            assert page.inner_text("#status") == "processed"

            page.click("#release")
            assert page.inner_text("#status") == "released"
            assert "Released to Department of Homeland Security" in page.inner_text("main")
            assert page.locator("#release").count() == 0

            # a form post without the session's CSRF token does nothing
            forged = page.request.post(f"{page.url.split('?')[0]}/release", form={"csrf": "forged"})
            assert forged.status == 400
        finally:
            browser.close()
    listed = world.client.get("/v1/batches", headers=world.auth("Avery Chen")).json()
    assert [(b["status"], b["released_by"]) for b in listed] == [("released", "Olu Adeyemi")]


def test_an_auditor_sees_batches_but_the_rows_page_names_the_rule(served: tuple[World, str]) -> None:
    from playwright.sync_api import sync_playwright

    world, base = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/ui/login")
            page.fill("#api_key", world.keys["Avery Chen"])
            page.click("button[type=submit]")
            page.click("#waiting a:has-text('DHS-TEST-1')")
            assert page.inner_text("#rule") == "only_disclosure_officers_review_rows"
        finally:
            browser.close()
