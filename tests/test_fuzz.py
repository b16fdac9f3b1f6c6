"""Fuzzing slugs, revision ids and query parameters: never a 500, never a traceback.

Property tests run the allow-lists directly and through the test client.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.accounts.auth import add_user
from app.content.store import is_safe_slug
from app.db import connect
from app.repo.gitrepo import is_valid_rev
from tests.conftest import (
    CANARY_BLOCK,
    CANARY_DOC,
    CANARY_TITLE,
    FIXTURE_DOCS,
    PASSWORD,
    make_repo,
)

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text likely to hit parser edges: separators, dots, encodings, NUL, unicode look-alikes.
_EDGY = st.sampled_from(["/", ".", "..", "%2e", "%2f", "%00", "\\", "\x00", "~", "-", "_",
                         " ", "?", "#", "&", "=", "%", "\u200b", "\u2024", "\uff0e", "ß",
                         "refunds", "escalation", "agents", "log-credit", ".git", ".md"])
SLUGS = st.lists(st.one_of(_EDGY, st.text(min_size=1, max_size=6)), max_size=8).map("".join)
REVS = st.one_of(st.text(max_size=45), st.text(alphabet="0123456789abcdefABCDEF^~:.@{}-",
                                               max_size=45))
KNOWN_PUBLIC = {("policies", "refunds"), ("faq", "track-order")}


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    app = create_app({
        "TESTING": True, "SECRET_KEY": "fuzz-secret-key-0123456789",
        "KB_DATA_DIR": str(base / "data"),
        "KB_CONTENT_DIR": str(make_repo(base / "content", FIXTURE_DOCS)),
        "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
    })
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app.test_client()


def assert_clean(res, url: str) -> str:
    body = res.get_data(as_text=True)
    assert res.status_code < 500, f"{url} -> {res.status_code}"
    assert "Traceback" not in body and "werkzeug" not in body.lower(), url
    for canary in (CANARY_DOC, CANARY_BLOCK, CANARY_TITLE):
        assert canary not in body, url
    return body


@FUZZ
@given(slug=SLUGS, folder=st.sampled_from(["policies", "faq"]), raw=st.booleans())
def test_document_urls_never_fail(fuzz_client, slug, folder, raw):
    path = f"/{folder}/" + (slug if raw else quote(slug, safe="/"))
    if raw and any(c in slug for c in "?#\x00 "):
        path = f"/{folder}/" + quote(slug, safe="/%")
    res = fuzz_client.get(path)
    assert_clean(res, path)
    if res.status_code == 200 and path.rstrip("/") == f"/{folder}":
        assert "<h1>" in res.get_data(as_text=True)  # the folder's index page
    elif res.status_code == 200:
        assert is_safe_slug(slug) and (folder, slug) in KNOWN_PUBLIC
    else:
        assert res.status_code in (404, 308, 405), (path, res.status_code)


@FUZZ
@given(rev=REVS, param=st.sampled_from(["as_of", "rev", "from", "to", "version"]))
def test_revision_parameters_never_fail(fuzz_client, rev, param):
    url = f"/policies/refunds?{param}={quote(rev, safe='')}"
    assert_clean(fuzz_client.get(url), url)


@FUZZ
@given(rev=REVS)
def test_valid_revisions_are_plain_hex(rev):
    if is_valid_rev(rev):
        assert re.fullmatch(r"[0-9a-f]{7,40}", rev)
    else:
        assert not re.fullmatch(r"[0-9a-f]{7,40}", rev)


@FUZZ
@given(slug=SLUGS)
def test_safe_slugs_cannot_escape(slug):
    if is_safe_slug(slug):
        parts = slug.split("/")
        assert all(p and not p.startswith(".") for p in parts)
        assert "\x00" not in slug and "\\" not in slug and not slug.endswith(".md")
        assert re.fullmatch(r"[A-Za-z0-9._/-]+", slug)


NEXT_TARGETS = st.one_of(st.text(max_size=60), st.sampled_from([
    "//evil.example", "https://evil.example", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "/%2f%2fevil.example", "/\t/evil.example", "http:/evil.example",
    " //evil.example", "/policies/refunds", "%2F%2Fevil.example"]))


def assert_same_site(location: str | None) -> None:
    assert location, "expected a redirect"
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and location.startswith("/")
    assert not location.startswith("//") and "\\" not in location


@pytest.fixture(scope="module")
def signed_in_client(fuzz_client):
    client = fuzz_client.application.test_client()
    assert client.post("/login", data={"username": "agent", "password": PASSWORD}
                       ).status_code == 302
    return client


@FUZZ
@given(target=NEXT_TARGETS, method=st.sampled_from(["GET", "POST"]))
def test_next_redirect_is_always_same_site(signed_in_client, target, method):
    """A signed-in user visiting /login is sent to ``next``: only ever a local path."""
    url = "/login?next=" + quote(target, safe="")
    res = signed_in_client.open(url, method=method, data={"username": "x", "password": "y"})
    assert_clean(res, url)
    assert res.status_code == 302
    assert_same_site(res.headers.get("Location"))


@settings(FUZZ, max_examples=20)
@given(target=NEXT_TARGETS)
def test_next_redirect_after_sign_in(fuzz_client, target):
    client = fuzz_client.application.test_client()  # anonymous: each example signs in
    url = "/login?next=" + quote(target, safe="")
    res = client.post(url, data={"username": "agent", "password": PASSWORD})
    assert_clean(res, url)
    assert_same_site(res.headers.get("Location"))


@FUZZ
@given(name=st.text(min_size=1, max_size=12), value=st.text(max_size=40),
       path=st.sampled_from(["/", "/policies/refunds", "/faq/track-order", "/sitemap.xml",
                             "/healthz", "/robots.txt", "/login", "/nope", "/static/css/site.css"]))
def test_query_parameters_never_fail(fuzz_client, name, value, path):
    url = f"{path}?{quote(name, safe='')}={quote(value, safe='')}&as={quote(value, safe='')}"
    assert_clean(fuzz_client.get(url), url)


@FUZZ
@given(value=st.text(max_size=40))
def test_view_as_parameter_for_anonymous(fuzz_client, value):
    url = "/?as=" + quote(value, safe="")
    body = assert_clean(fuzz_client.get(url), url)
    assert "Customer view" not in body
