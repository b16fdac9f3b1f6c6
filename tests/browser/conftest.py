"""Playwright in Debian's Chromium against a live gunicorn server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.db import connect
from tests.conftest import FIXTURE_DOCS, PASSWORD
from tests.live import LiveServer, prepare_dirs
from tests.xss_vectors import browser_documents

CHROMIUM = os.environ.get("KB_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """One multi-worker server for the browser tests, with the fixture content and users."""
    xss = {path: text for path, (text, _) in browser_documents().items()}
    data, content = prepare_dirs(tmp_path_factory.mktemp("live"), {**FIXTURE_DOCS, **xss})
    with LiveServer(data, content, workers=2) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    # Fail in seconds, not after Playwright's 30 s default: a stuck page is a failure.
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, base_url: str, username: str = "agent") -> None:
    """Sign in through the real form and wait for the home page."""
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")


@pytest.fixture
def login(page, live_server):
    def do_login(username: str = "agent"):
        sign_in(page, live_server.url, username)
    return do_login


@pytest.fixture
def signed_in(browser, live_server):
    """A fresh browser context signed in as ``username``; closed after the test."""
    contexts = []

    def open_as(username: str):
        context = browser.new_context()
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, live_server.url, username)
        return page

    yield open_as
    for context in contexts:
        context.close()


def wait_for_row(live_server, sql: str, params: tuple) -> tuple | None:
    """The first row ``sql`` finds in the server's database, polled for up to 3 s (the
    server writes some rows after answering)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        conn = connect(live_server.data_dir / "portal.sqlite3")
        try:
            row = conn.execute(sql, params).fetchone()
        finally:
            conn.close()
        if row:
            return tuple(row)
        time.sleep(0.1)
    return None
