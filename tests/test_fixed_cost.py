"""The cuts of the fixed cost per request (issue 14) keep what they skip work for.

Limits apply only where declared, and still apply there.  Anonymous pages kept per worker
(``page_cache``) are exactly what the view would answer: a commit touching the file, a new day
or a visitor with a cookie gets a fresh answer.
"""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from app import create_app
from app.accounts.auth import add_user
from app.db import connect
from tests.conftest import CANARY_BLOCK, PASSWORD, git


def _app(tmp_path, content_dir, **extra):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32, "WTF_CSRF_ENABLED": False,
                      "KB_DATA_DIR": str(tmp_path / "d"), "KB_CONTENT_DIR": str(content_dir),
                      **extra})
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app


def test_routes_without_a_limit_are_not_counted_and_declared_limits_hold(tmp_path,
                                                                         content_dir):
    app = _app(tmp_path, content_dir, KB_LOGIN_LIMIT="2 per minute",
               KB_LOGIN_ADDRESS_LIMIT="2 per minute", KB_SEARCH_LIMIT="2 per minute")
    client = app.test_client()
    for _ in range(5):  # more than any limit: pages and health checks declare none
        for url in ("/healthz", "/policies/refunds", "/"):
            res = client.get(url)
            assert res.status_code == 200
            assert "X-RateLimit-Limit" not in res.headers
    # the search limit: two answers, then 429, with the limit's headers
    first = client.get("/api/search?q=refund")
    assert first.status_code == 200 and first.headers["X-RateLimit-Limit"] == "2"
    assert client.get("/api/search?q=refund").status_code == 200
    assert client.get("/api/search?q=refund").status_code == 429
    assert client.get("/search?q=refund").status_code == 429
    # the login limits count failed POSTs; the form itself (GET) is not limited
    for _ in range(5):
        assert client.get("/login").status_code == 200
    bad = {"username": "agent", "password": "wrong password!"}
    assert client.post("/login", data=bad).status_code in (400, 401)
    assert client.post("/login", data=bad).status_code in (400, 401)
    assert client.post("/login", data=bad).status_code == 429


def _count_in_child(store, out) -> None:
    out.put(store.incr("k", 60))


def test_rate_limit_counts_hold_across_a_fork_and_a_replaced_file(tmp_path):
    """Connections are kept per thread: a forked worker opens its own, and a file replaced
    under a worker (set aside, deleted) is noticed before the next count."""
    import multiprocessing as mp

    from app.accounts.ratelimit_store import SQLiteStorage

    path = tmp_path / "rl.db"
    store = SQLiteStorage(f"sqlite:///{path}")
    assert store.incr("k", 60) == 1
    ctx, out = mp.get_context("fork"), None
    out = ctx.Queue()
    child = ctx.Process(target=_count_in_child, args=(store, out))
    child.start()
    child.join(20)
    assert out.get(timeout=5) == 2
    assert store.incr("k", 60) == 3 and store.get("k") == 3
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"rl.db{suffix}").rename(tmp_path / f"old{suffix}")
    assert store.incr("k", 60) == 1  # a new file, not the one set aside
    assert SQLiteStorage(f"sqlite:///{path}").get("k") == 1


def _commit(content_dir, rel: str, text: str, message: str = "Change") -> None:
    path = content_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", message)


REFUNDS_V2 = """\
    ---
    title: Refunds
    audience: public
    ---
    We refund every order within 60 days.
    """


def test_a_kept_page_answers_304_until_a_commit_touches_its_file(app, client, content_dir):
    first = client.get("/policies/refunds")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "public" in first.headers["Cache-Control"]
    again = client.get("/policies/refunds", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert "nonce" not in again.headers["Content-Security-Policy"]
    assert again.headers["X-Frame-Options"] == "DENY" and "Cookie" in again.headers["Vary"]
    # a commit made outside the portal: the next request sees it, with new bytes
    _commit(content_dir, "policies/refunds.md", REFUNDS_V2)
    fresh = client.get("/policies/refunds", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert b"within 60 days" in fresh.data and b"within 30 days" not in fresh.data
    assert client.get("/policies/refunds").data == fresh.data


def test_a_commit_elsewhere_keeps_the_page_exactly_as_a_cold_worker_renders_it(
        app, client, content_dir, tmp_path):
    before = client.get("/policies/refunds")
    _commit(content_dir, "faq/track-order.md", """\
        ---
        title: How do I track my order?
        audience: public
        ---
        Use the tracking link.
        """)
    kept = client.get("/policies/refunds", headers={"If-None-Match": before.headers["ETag"]})
    assert kept.status_code == 304
    cold = create_app({"TESTING": True, "SECRET_KEY": "k" * 32,
                       "KB_DATA_DIR": str(tmp_path / "cold"),
                       "KB_CONTENT_DIR": str(content_dir)}).test_client()
    assert cold.get("/policies/refunds").data == client.get("/policies/refunds").data


def test_a_new_day_renders_again(app, client, content_dir):
    """Same HEAD, next day: the version that comes into force is served, not the kept one."""
    for text, effective in (("by bank transfer", "2031-01-01"), ("by voucher", "2031-05-01")):
        _commit(content_dir, "policies/upcoming.md", f"""\
            ---
            title: Upcoming
            audience: public
            effective: {effective}
            ---
            From {effective} we refund {text}.
            """)
    app.config["KB_TODAY"] = dt.date(2031, 4, 30)
    before = client.get("/policies/upcoming")
    assert b"by bank transfer" in before.data and b"by voucher" not in before.data
    assert client.get("/policies/upcoming",
                      headers={"If-None-Match": before.headers["ETag"]}).status_code == 304
    app.config["KB_TODAY"] = dt.date(2031, 5, 1)
    after = client.get("/policies/upcoming", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and b"by voucher" in after.data


def test_visitors_with_a_cookie_or_a_query_never_get_the_kept_page(app, client, auth):
    anonymous = client.get("/policies/refunds")
    assert CANARY_BLOCK.encode() not in anonymous.data
    auth.login()
    agent = client.get("/policies/refunds", headers={"If-None-Match": anonymous.headers["ETag"]})
    assert agent.status_code == 200 and CANARY_BLOCK.encode() in agent.data
    assert "no-store" in agent.headers["Cache-Control"]
    client.post("/logout")
    client.delete_cookie("session")
    assert CANARY_BLOCK.encode() not in client.get("/policies/refunds").data
    assert client.get("/policies/refunds?as=customer").status_code == 200


def test_sessions_follow_a_rotated_secret_key(app, client, auth):
    """The session serializer is kept per set of keys: a new key ends old sessions at once,
    unless the old key is listed as a fallback."""
    auth.login()
    assert CANARY_BLOCK.encode() in client.get("/policies/refunds").data
    old = app.secret_key
    app.secret_key = app.config["SECRET_KEY"] = "a-new-secret-key-0123456789abcdef"
    assert CANARY_BLOCK.encode() not in client.get("/policies/refunds").data
    app.config["SECRET_KEY_FALLBACKS"] = [old]
    assert CANARY_BLOCK.encode() in client.get("/policies/refunds").data


def test_a_get_request_serves_one_commit_and_a_post_sees_a_new_one(app, content_dir):
    """HEAD is read once per GET (a page is one commit's view, whatever lands meanwhile);
    a request that may write reads it afresh, and so does work outside a request."""
    from app.content.store import repo

    def new_commit() -> None:
        (content_dir / "faq" / "one-commit.md").write_text(
            f"---\ntitle: One commit {dt.datetime.now().timestamp()}\n---\nText.\n")
        git(content_dir, "add", "-A")
        git(content_dir, "commit", "-q", "-m", "Meanwhile")

    with app.test_request_context("/policies/refunds", method="GET"):
        first = repo().head()
        new_commit()
        assert repo().head() == first
    with app.test_request_context("/edit/faq/one-commit", method="POST"):
        second = repo().head()
        assert second != first
        new_commit()
        assert repo().head() != second
    with app.app_context():
        assert repo().head() == git(content_dir, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("returning", [True, False])
def test_a_rate_limit_window_starts_again_once_expired(tmp_path, monkeypatch, returning):
    """A count is one statement (where SQLite has RETURNING); an expired window still
    restarts at the amount, and expired counters of other keys are swept now and then."""
    from app.accounts import ratelimit_store
    from app.accounts.ratelimit_store import SQLiteStorage

    monkeypatch.setattr(ratelimit_store, "_RETURNING", returning)
    clock = [1000.0]
    monkeypatch.setattr(ratelimit_store.time, "time", lambda: clock[0])
    store = SQLiteStorage(f"sqlite:///{tmp_path / 'rl.db'}")
    assert [store.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert store.incr("k", 60, amount=2) == 5 and store.get("k") == 5
    assert store.get_expiry("k") == 1060.0
    clock[0] = 1061.0
    assert store.get("k") == 0 and store.incr("k", 60) == 1
    assert store.get_expiry("k") == 1121.0
    store.incr("other", 1)
    clock[0] = 1100.0
    for _ in range(ratelimit_store.PRUNE_EVERY):
        store.incr("k", 60)
    rows = store._conn().execute("SELECT key FROM counters").fetchall()
    assert [r[0] for r in rows] == ["k"]
