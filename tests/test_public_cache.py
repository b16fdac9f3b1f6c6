"""Issue 12, item 4: anonymous readers get no cookie, and public pages are cacheable.

The nginx test (a real caching proxy in front of gunicorn) is in test_proxy_cache.py.
"""

from __future__ import annotations

import re

import pytest

from app import create_app
from app.accounts.auth import add_user
from app.db import connect
from tests.conftest import PASSWORD
from tests.history_helpers import commit, refunds

PUBLIC_PAGES = ["/", "/policies/", "/faq/", "/faq/?tag=orders", "/policies/refunds",
                "/faq/track-order", "/changes", "/changes.atom", "/changes/policies/refunds",
                "/sitemap.xml", "/robots.txt", "/search", "/api/search?q=refund"]


@pytest.fixture
def strict(tmp_path, content_dir):
    """CSRF on, as in production (the shared ``app`` fixture turns it off)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "s" * 32, "RATELIMIT_ENABLED": False,
                      "KB_DATA_DIR": str(tmp_path / "d"), "KB_CONTENT_DIR": str(content_dir)})
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app


@pytest.mark.parametrize("url", [*PUBLIC_PAGES, "/search?q=refund", "/nope"])
def test_anonymous_get_sets_no_cookie(strict, url):
    res = strict.test_client().get(url)
    assert res.status_code in (200, 404)
    assert "Set-Cookie" not in res.headers, res.headers["Set-Cookie"]
    assert "Cookie" in res.headers["Vary"]


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_are_cacheable_with_validators(strict, url):
    client = strict.test_client()
    res = client.get(url)
    assert res.status_code == 200
    assert res.headers["Cache-Control"] == "public, max-age=60"
    etag, modified = res.headers["ETag"], res.headers["Last-Modified"]
    assert re.fullmatch(r'"[0-9a-f]{40}"', etag)  # strong: no W/ prefix
    same = client.get(url, headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.head(url, headers={"If-None-Match": etag}).status_code == 304


def test_max_age_is_a_setting(tmp_path, content_dir):
    app = create_app({"TESTING": True, "KB_DATA_DIR": str(tmp_path / "d"),
                      "KB_CONTENT_DIR": str(content_dir), "KB_PUBLIC_MAX_AGE": 300})
    assert app.test_client().get("/").headers["Cache-Control"] == "public, max-age=300"


def test_a_commit_changes_etag_and_last_modified(strict, content_dir):
    client = strict.test_client()
    before = client.get("/policies/refunds")
    commit(content_dir, {"policies/refunds.md": refunds("A new refund rule.\n")}, "New rule")
    after = client.get("/policies/refunds", headers={
        "If-None-Match": before.headers["ETag"],
        "If-Modified-Since": before.headers["Last-Modified"]})
    assert after.status_code == 200 and "A new refund rule." in after.text
    assert after.headers["ETag"] != before.headers["ETag"]
    # even a client that only sends the date gets the new page, within the same second
    dated = client.get("/policies/refunds",
                       headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert dated.status_code == 200


def test_first_response_that_sets_a_session_is_private(strict):
    """The old check ran before Flask wrote the session cookie: this one was public."""
    for url in ("/login", "/api/csrf-token"):
        res = strict.test_client().get(url)
        assert "session=" in res.headers["Set-Cookie"], url
        assert res.headers["Cache-Control"] == "private, no-store", url
        assert "ETag" not in res.headers


def test_staff_and_any_cookie_are_private(strict):
    client = strict.test_client()
    token = client.get("/api/csrf-token").get_json()["token"]
    assert client.post("/login", data={"username": "agent", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    public = strict.test_client().get("/policies/refunds")
    for url in ("/policies/refunds", "/", "/api/search?q=refund", "/policies/refunds?as=customer"):
        res = client.get(url, headers={"If-None-Match": public.headers["ETag"]})
        assert res.status_code == 200 and res.headers["Cache-Control"] == "private, no-store"
        assert "ETag" not in res.headers and "Last-Modified" not in res.headers
    other = strict.test_client()
    other.set_cookie("unrelated", "1")
    assert other.get("/").headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("url", ["/search?q=refund", "/healthz", "/nope",
                                 "/changes/policies/refunds?page=9"])
def test_uncacheable_anonymous_answers(strict, url):
    """Search pages name their own analytics row; health is live; errors are not kept."""
    res = strict.test_client().get(url)
    assert res.headers["Cache-Control"] == "no-store" and "ETag" not in res.headers


def test_anonymous_feedback_gets_its_token_on_use(strict):
    client = strict.test_client()
    page = client.get("/policies/refunds").text
    form = re.search(r'<form method="post" action="/feedback/policies/refunds"[^>]*>', page)
    assert 'data-token="/api/csrf-token"' in form.group(0)
    assert 'name="csrf_token" value=""' in page  # filled in by site.js on submit
    token = client.get("/api/csrf-token").get_json()["token"]
    res = client.post("/feedback/policies/refunds", data={"helpful": "yes", "csrf_token": token})
    assert res.status_code == 302
    assert _votes(strict) == [("refunds", 1, "")]


def test_feedback_without_javascript_is_confirmed_then_stored(strict):
    client = strict.test_client()
    res = client.post("/feedback/policies/refunds",
                      data={"helpful": "no", "comment": "Unclear <b>window</b>"})
    assert res.status_code == 400 and _votes(strict) == []  # nothing stored without a token
    assert "Send your feedback?" in res.text
    assert 'value="no" checked' in res.text and "Unclear &lt;b&gt;window&lt;/b&gt;" in res.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', res.text).group(1)
    res = client.post("/feedback/policies/refunds",
                      data={"helpful": "no", "comment": "Unclear window", "csrf_token": token})
    assert res.status_code == 302 and _votes(strict) == [("refunds", 0, "Unclear window")]
    # no confirmation page for a document that is not public
    assert client.post("/feedback/policies/escalation", data={"helpful": "no"}).status_code \
        == 404


def _votes(app) -> list[tuple]:
    conn = connect(app.config["DATABASE"])
    try:
        return [tuple(r) for r in conn.execute("SELECT slug, helpful, comment FROM feedback")]
    finally:
        conn.close()


def test_anonymous_click_beacon_gets_its_token_on_use(strict):
    client = strict.test_client()
    home = client.get("/").text
    box = re.search(r'<form class="search-box"[^>]*>', home, re.S).group(0)
    assert 'data-token="/api/csrf-token"' in box and "data-csrf" not in box
    body = {"q": "claims", "url": "/policies/refunds"}
    assert client.post("/api/search/click", json=body).status_code == 400
    token = client.get("/api/csrf-token").get_json()["token"]
    assert client.post("/api/search/click", json=body,
                       headers={"X-CSRFToken": token}).status_code == 200
