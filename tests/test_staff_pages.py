"""Agents' pages kept per worker (``app/web/staff_pages.py``) and the per-user parts kept
per HEAD (``acks.owed``, ``review_notice``) are always what a fresh render would show.

Over HTTP with the test client: an acknowledgement, a save, a commit elsewhere, a new day and
a flashed message each give the next page view the answer a cold worker would give, and
every page carries a CSRF token the portal accepts.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from flask import template_rendered

from app import create_app
from app.accounts.auth import add_user
from app.content.store import store
from app.db import connect
from app.lifecycle.acks import acknowledge
from tests.conftest import PASSWORD, git

REFUNDS = "---\ntitle: Refunds\naudience: public\nreview_by: 2027-01-01\n---\nYou have {} days.\n"
TOKEN_RE = re.compile(r'(name="csrf_token"(?: type="hidden")? value="|data-csrf=")([^"]+)"')


def commit(content_dir, rel: str, text: str, message: str) -> str:
    path = content_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", message)
    return git(content_dir, "rev-parse", "HEAD").strip()


def kept(app) -> int:
    return len(app.extensions["kb_staff_pages"])


def rendered(app, client, url: str = "/policies/refunds") -> tuple[str, bool]:
    """The page, and whether the view rendered it (False: it came from the kept pages)."""
    names: list[str] = []

    def note(sender, template, context, **extra):
        names.append(template.name)

    template_rendered.connect(note, app)
    try:
        page = client.get(url).get_data(as_text=True)
    finally:
        template_rendered.disconnect(note, app)
    return page, "document.html" in names


def tokens(page: str) -> set[str]:
    return {m.group(2) for m in TOKEN_RE.finditer(page)}


def without_tokens(page: str) -> str:
    return TOKEN_RE.sub(r"\1TOKEN", page)


def new_worker(app, tmp_path):
    """Another app on the same content with nothing kept, and the same agent (user 1)."""
    names = ("TESTING", "SECRET_KEY", "KB_CONTENT_DIR", "RATELIMIT_ENABLED", "WTF_CSRF_ENABLED")
    other = create_app({**{n: app.config[n] for n in names},
                        "KB_DATA_DIR": str(tmp_path / f"cold{len(list(tmp_path.iterdir()))}")})
    db = connect(other.config["DATABASE"])
    add_user(db, "agent", PASSWORD, "agent")
    return other, db


def cold(app, tmp_path) -> str:
    """The page as a new worker renders it, for the same agent."""
    other, db = new_worker(app, tmp_path)
    db.close()
    client = other.test_client()
    client.post("/login", data={"username": "agent", "password": PASSWORD})
    return client.get("/policies/refunds").get_data(as_text=True)


def test_a_kept_page_is_the_rendered_one_with_this_requests_token(tmp_path, content_dir):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32, "RATELIMIT_ENABLED": False,
                      "KB_DATA_DIR": str(tmp_path / "d"), "KB_CONTENT_DIR": str(content_dir)})
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    assert client.post("/login", data={"username": "agent", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    first = client.get("/policies/refunds")
    assert kept(app) == 1 and "no-store" in first.headers["Cache-Control"]
    assert not rendered(app, client)[1]
    again = client.get("/policies/refunds")
    assert again.status_code == 200 and kept(app) == 1
    assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert "no-store" in again.headers["Cache-Control"] and "ETag" not in again.headers
    page = again.get_data(as_text=True)
    assert "\x00" not in page and len(tokens(page)) == 1
    assert without_tokens(page) == without_tokens(first.get_data(as_text=True))
    # the token in the kept page is this session's: the portal accepts it
    res = client.post("/logout", data={"csrf_token": tokens(page).pop()})
    assert res.status_code == 302
    assert "Staff sign in" in client.get("/policies/refunds").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400


def test_an_acknowledgement_changes_the_next_page(app, client, auth, content_dir, tmp_path):
    sha = commit(content_dir, "policies/refunds.md", REFUNDS.format(60), "x\n\nMaterial: yes")
    auth.login("agent")
    for render in (True, False):  # rendered, then kept
        page, fresh = rendered(app, client)
        assert fresh is render
        assert "I have read this" in page and 'aria-label="1 documents to read"' in page
    assert kept(app) == 1
    res = client.post("/acknowledge/policies/refunds", data={"rev": sha})
    assert res.status_code == 302
    after = client.get("/policies/refunds").get_data(as_text=True)  # shows the flash, once
    assert "Recorded: you have read" in after and "I have read this" not in after
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert "Recorded" not in page and "I have read this" not in page
    assert "documents to read" not in page
    assert without_tokens(page) == without_tokens(cold_after_ack(app, tmp_path, sha))


def cold_after_ack(app, tmp_path, sha: str) -> str:
    other, db = new_worker(app, tmp_path)
    with other.app_context():
        assert acknowledge(db, user_id=1, doc=store().get("policy", "refunds"), rev=sha)
    db.close()
    client = other.test_client()
    client.post("/login", data={"username": "agent", "password": PASSWORD})
    return client.get("/policies/refunds").get_data(as_text=True)


def test_an_acknowledgement_made_by_another_worker_is_seen(app, client, auth, content_dir):
    sha = commit(content_dir, "policies/refunds.md", REFUNDS.format(60), "x\n\nMaterial: yes")
    auth.login("agent")
    assert "I have read this" in client.get("/policies/refunds").get_data(as_text=True)
    assert "I have read this" in client.get("/policies/refunds").get_data(as_text=True)
    db = connect(app.config["DATABASE"])  # another process writes the row
    with app.app_context():
        assert acknowledge(db, user_id=1, doc=store().get("policy", "refunds"), rev=sha)
    page, fresh = rendered(app, client)
    assert fresh and "I have read this" not in page and "documents to read" not in page
    assert 'aria-label="0' not in client.get("/to-read").get_data(as_text=True)


def test_a_save_shows_on_the_next_page_and_a_commit_elsewhere_keeps_it(
        app, client, auth, content_dir, tmp_path):
    auth.login("agent")
    assert "within 30 days" in client.get("/policies/refunds").get_data(as_text=True)
    commit(content_dir, "policies/refunds.md", REFUNDS.format(45), "Longer")
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert "You have 45 days." in page and "within 30 days" not in page
    # a commit to another file: the kept page is carried over, exactly as a cold render
    commit(content_dir, "faq/track-order.md", "---\ntitle: Track\naudience: public\n---\nT.\n",
           "Other")
    carried, fresh = rendered(app, client)
    assert not fresh
    assert without_tokens(carried) == without_tokens(cold(app, tmp_path))
    # a material change elsewhere changes the to-read count on this page
    commit(content_dir, "faq/track-order.md", "---\ntitle: Track\naudience: public\n---\nU.\n",
           "Other\n\nMaterial: yes")
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert 'aria-label="1 documents to read"' in page and "I have read this" not in page


def test_a_new_day_renders_again(app, client, auth, content_dir):
    commit(content_dir, "policies/refunds.md", REFUNDS.format(30), "Review date")
    auth.login("agent")
    app.config["KB_TODAY"] = dt.date(2027, 1, 1)
    for render in (True, False):
        page, fresh = rendered(app, client)
        assert "Overdue for review" not in page and fresh is render
    app.config["KB_TODAY"] = dt.date(2027, 1, 2)
    assert "Overdue for review since 1 January 2027" in client.get(
        "/policies/refunds").get_data(as_text=True)


def test_each_agent_gets_their_own_page_and_editors_are_not_kept(app, client, auth):
    db = connect(app.config["DATABASE"])
    add_user(db, "second-agent", PASSWORD, "agent")
    auth.login("agent")
    assert ">agent</span>" in client.get("/policies/refunds").get_data(as_text=True)
    auth.logout()
    auth.login("second-agent")
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert ">second-agent</span>" in page and ">agent</span>" not in page
    assert kept(app) == 2
    assert "View as customer" not in client.get(
        "/policies/refunds?as=customer").get_data(as_text=True)
    auth.logout()
    auth.login("editor")
    client.get("/policies/refunds")
    assert kept(app) == 3 and "Proposals" in client.get("/policies/refunds").get_data(
        as_text=True)


def test_the_printed_revision_is_walked_once_for_all_workers(app, content_dir, monkeypatch):
    """One worker walks a page's history for its printed revision and leaves it on disk;
    another reads it (carried over later commits) instead of walking, and an entry that
    does not verify is walked again."""
    from app.history import changelog

    def page() -> str:
        changelog._printed.clear()  # a new worker: nothing in memory
        app.extensions["kb_pages"].clear()
        return app.test_client().get("/policies/refunds").get_data(as_text=True)

    public = commit(content_dir, "policies/refunds.md", REFUNDS.format(40), "Public text")
    first = page()
    assert f"({public[:8]})" in first
    walked = []
    real = changelog._walked
    monkeypatch.setattr(changelog, "_walked", lambda *a: walked.append(a) or real(*a))
    assert page() == first and walked == []
    # commits since: one elsewhere, one of internal text only, one of public text
    commit(content_dir, "faq/track-order.md", "---\ntitle: T\naudience: public\n---\nT.\n", "x")
    assert page() == first and walked == []
    text = REFUNDS.format(40) + "\n::: internal\nStaff only.\n:::\n"
    commit(content_dir, "policies/refunds.md", text, "Internal note")
    assert f"({public[:8]})" in page() and walked == []
    newer = commit(content_dir, "policies/refunds.md", text.replace("40", "50"), "Public")
    assert f"({newer[:8]})" in page() and walked == []
    for entry in (Path(app.config["KB_DATA_DIR"]) / "printed").rglob("*"):
        if entry.is_file():
            entry.write_bytes(entry.read_bytes().replace(public.encode(), newer.encode()))
    assert f"({newer[:8]})" in page() and len(walked) == 1


def test_a_csrf_token_is_signed_once_a_minute_per_session(tmp_path, content_dir, monkeypatch):
    """Pages within a minute carry the token signed for the first; it is accepted like
    any; a later page, another session or a new key gets a token signed for it."""
    from app.accounts import security

    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32, "RATELIMIT_ENABLED": False,
                      "KB_DATA_DIR": str(tmp_path / "d"), "KB_CONTENT_DIR": str(content_dir)})
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    clock = [1_000_000.0]
    monkeypatch.setattr(security.time, "time", lambda: clock[0])

    def signed_in():
        client = app.test_client()
        token = tokens(client.get("/login").get_data(as_text=True)).pop()
        assert client.post("/login", data={"username": "agent", "password": PASSWORD,
                                           "csrf_token": token}).status_code == 302
        return client

    first, second = signed_in(), signed_in()
    one = tokens(first.get("/policies/refunds").get_data(as_text=True))
    clock[0] += 30
    assert tokens(first.get("/faq/track-order").get_data(as_text=True)) == one
    assert tokens(second.get("/policies/refunds").get_data(as_text=True)).isdisjoint(one)
    clock[0] += 31
    later = tokens(first.get("/policies/refunds").get_data(as_text=True))
    assert len(later) == 1 and later != one
    assert first.post("/logout", data={"csrf_token": one.pop()}).status_code == 302
