"""The cuts of the fixed cost per request (issue 14) keep what they skip work for.

Limits apply only where declared, and still apply there.
"""

from __future__ import annotations

from app import create_app
from app.accounts.auth import add_user
from app.db import connect
from tests.conftest import PASSWORD


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
