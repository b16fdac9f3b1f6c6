"""Bounds on anonymous traffic: the search rate limit and the pruning of search analytics."""

from __future__ import annotations

import datetime as dt

import pytest

from app import create_app
from app.accounts.auth import add_user
from app.db import connect
from app.lifecycle.search_log import record
from tests.conftest import PASSWORD


def _app(tmp_path, content_dir, **extra):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32, "WTF_CSRF_ENABLED": False,
                      "KB_DATA_DIR": str(tmp_path / "d"), "KB_CONTENT_DIR": str(content_dir),
                      **extra})
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app


def _rows(app) -> list[tuple[str, str]]:
    conn = connect(app.config["DATABASE"])
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT query, created_at FROM search_queries ORDER BY id")]
    finally:
        conn.close()


def test_anonymous_search_is_limited_per_address_with_a_429_that_explains(tmp_path, content_dir):
    app = _app(tmp_path, content_dir, KB_SEARCH_LIMIT="3 per minute")
    client = app.test_client()
    # the page, the API and the click beacon share one counter per address
    assert client.get("/search?q=refund").status_code == 200
    assert client.get("/api/search?q=refund").status_code == 200
    assert client.post("/api/search/click",
                       json={"q": "refund", "url": "/policies/refunds"}).status_code == 200
    api = client.get("/api/search?q=refund")
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
    body = api.get_json()
    assert "Too many searches" in body["message"] and "3 per minute" in body["message"]
    assert 0 < body["retry_after"] <= 61
    assert abs(body["retry_after"] - int(api.headers["Retry-After"])) <= 1
    page = client.get("/search?q=late+claims")
    assert page.status_code == 429 and "text/html" in page.headers["Content-Type"]
    text = page.get_data(as_text=True)
    assert "Too many searches from your address" in text and "try again in" in text
    assert "no-store" in page.headers["Cache-Control"]  # a 429 is never cached
    assert [q for q, _ in _rows(app)] == ["refund", "refund"]  # refused searches log nothing
    # another address has its own counter
    other = client.get("/api/search?q=refund", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200


def test_signed_in_staff_are_not_limited(tmp_path, content_dir):
    app = _app(tmp_path, content_dir, KB_SEARCH_LIMIT="2 per minute")
    client = app.test_client()
    assert client.post("/login", data={"username": "agent", "password": PASSWORD}).status_code \
        == 302
    assert [client.get("/api/search?q=refund").status_code for _ in range(6)] == [200] * 6
    assert client.get("/search?q=refund").status_code == 200


def _log(app, query: str, day: dt.date) -> None:
    conn = connect(app.config["DATABASE"])
    try:
        record(conn, query, "public", 1, at=dt.datetime.combine(day, dt.time(23, 59),
                                                              tzinfo=dt.UTC))
    finally:
        conn.close()


TODAY = dt.date(2026, 6, 1)
CUTOFF = TODAY - dt.timedelta(days=400)  # 2025-04-27: the first day kept


@pytest.fixture
def dated_app(tmp_path, content_dir):
    return _app(tmp_path, content_dir, RATELIMIT_ENABLED=False, KB_TODAY=TODAY)


def test_searching_prunes_old_analytics_at_most_once_an_hour(dated_app):
    _log(dated_app, "too old", CUTOFF - dt.timedelta(days=1))
    _log(dated_app, "kept", CUTOFF)
    client = dated_app.test_client()
    assert client.get("/search?q=refund").status_code == 200
    assert [q for q, _ in _rows(dated_app)] == ["kept", "refund"]
    # within the hour this worker does not prune again...
    _log(dated_app, "old again", CUTOFF - dt.timedelta(days=30))
    assert client.get("/search?q=claims").status_code == 200
    assert [q for q, _ in _rows(dated_app)] == ["kept", "refund", "old again", "claims"]
    # ...and `kb prune` does it at once
    result = dated_app.test_cli_runner().invoke(args=["kb", "prune"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 rows from before 2025-04-27" in result.output
    assert [q for q, _ in _rows(dated_app)] == ["kept", "refund", "claims"]


def test_kb_init_prunes_and_zero_keeps_forever(tmp_path, content_dir):
    app = _app(tmp_path, content_dir, RATELIMIT_ENABLED=False, KB_TODAY=TODAY,
               KB_ANALYTICS_RETENTION_DAYS=0)
    _log(app, "ancient", dt.date(2020, 1, 1))
    result = app.test_cli_runner().invoke(args=["kb", "prune"])
    assert "kept forever" in result.output and [q for q, _ in _rows(app)] == ["ancient"]
    app.config["KB_ANALYTICS_RETENTION_DAYS"] = 400
    result = app.test_cli_runner().invoke(args=["kb", "init", "--no-admin"])
    assert result.exit_code == 0, result.output
    assert "Search analytics: deleted 1 rows" in result.output and _rows(app) == []
