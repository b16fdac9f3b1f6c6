"""Security headers, session rotation, proxy handling and the shared login-limit storage."""

import re
import time

import pytest

from app import create_app
from app.accounts.auth import add_user
from app.accounts.ratelimit_store import SQLiteStorage
from app.db import connect
from tests.conftest import PASSWORD

PAGES = ["/", "/policies/refunds", "/faq/track-order", "/login", "/nope", "/sitemap.xml",
         "/healthz"]


@pytest.mark.parametrize("url", PAGES)
def test_security_headers_everywhere(client, url):
    res = client.get(url)
    csp = res.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Referrer-Policy"] == "same-origin"
    assert res.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in res.headers  # not without secure cookies


def _app(tmp_path, content_dir, **extra):
    config = {"TESTING": True, "SECRET_KEY": "k" * 32, "KB_DATA_DIR": str(tmp_path / "d"),
              "KB_CONTENT_DIR": str(content_dir), **extra}
    app = create_app(config)
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app


def test_hsts_and_secure_cookie_when_configured(tmp_path, content_dir):
    app = _app(tmp_path, content_dir, KB_SECURE_COOKIES=True, WTF_CSRF_ENABLED=False,
               RATELIMIT_ENABLED=False)
    client = app.test_client()
    assert "max-age=31536000" in client.get("/").headers["Strict-Transport-Security"]
    res = client.post("/login", data={"username": "agent", "password": PASSWORD})
    assert "Secure" in res.headers["Set-Cookie"]


def test_staff_responses_are_never_cached(client, auth):
    assert "no-store" not in client.get("/policies/refunds").headers.get("Cache-Control", "")
    auth.login()
    res = client.get("/policies/refunds")
    assert "no-store" in res.headers["Cache-Control"] and "Cookie" in res.headers["Vary"]


def _token(html: str) -> str:
    match = (re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
             or re.search(r'type="hidden" name="csrf_token" value="([^"]+)"', html))
    return match.group(1)


def _session_cookie(client):
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_session_rotated_at_login_and_old_one_worthless(tmp_path, content_dir):
    app = _app(tmp_path, content_dir, RATELIMIT_ENABLED=False)
    client = app.test_client()
    before_token = _token(client.get("/login").get_data(as_text=True))
    before_cookie = _session_cookie(client)
    assert before_cookie
    res = client.post("/login", data={"username": "agent", "password": PASSWORD,
                                      "csrf_token": before_token})
    assert res.status_code == 302
    after_cookie = _session_cookie(client)
    after_token = _token(client.get("/").get_data(as_text=True))
    assert after_cookie != before_cookie and after_token != before_token
    # A pre-login cookie (say, planted by an attacker) is still anonymous afterwards...
    other = app.test_client()
    other.set_cookie("session", before_cookie)
    assert "Staff sign in" in other.get("/").get_data(as_text=True)
    # ...and its CSRF token is no good for the signed-in session.
    assert client.post("/logout", data={"csrf_token": before_token}).status_code == 400
    assert client.post("/logout", data={"csrf_token": after_token}).status_code == 302
    assert "Staff sign in" in client.get("/").get_data(as_text=True)


def test_no_remember_me_cookie(client, auth):
    res = auth.login()
    assert "remember_token" not in " ".join(res.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("setting, expected_addr", [("0", "127.0.0.1"), ("1", "203.0.113.9")])
def test_proxy_fix_only_when_configured(tmp_path, content_dir, setting, expected_addr):
    app = _app(tmp_path, content_dir, KB_PROXY_FIX=setting)

    @app.get("/_addr")
    def addr():
        from flask import request
        return f"{request.remote_addr} {request.scheme}"

    res = app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9",
                                                  "X-Forwarded-Proto": "https"})
    addr_, scheme = res.get_data(as_text=True).split()
    assert addr_ == expected_addr
    assert scheme == ("https" if setting == "1" else "http")


def test_login_limit_uses_sqlite_in_data_dir_by_default(app):
    from app.accounts.security import limiter

    assert app.config["RATELIMIT_STORAGE_URI"].startswith("sqlite:///")
    assert not app.config["RATELIMIT_STORAGE_URI"].startswith("sqlite:////")
    assert app.config["RATELIMIT_STORAGE_URI"].endswith("/data/ratelimit.sqlite3")
    assert isinstance(limiter.storage, SQLiteStorage)


def test_sqlite_storage_counts_across_instances(tmp_path):
    uri = f"sqlite:///{tmp_path}/rl.db"
    one, two = SQLiteStorage(uri), SQLiteStorage(uri)  # two workers, one file
    assert one.incr("k", 60) == 1
    assert two.incr("k", 60) == 2
    assert one.get("k") == two.get("k") == 2
    assert one.get_expiry("k") > time.time() + 50
    two.clear("k")
    assert one.get("k") == 0
    assert one.check()


def test_sqlite_storage_window_expires(tmp_path):
    store = SQLiteStorage(f"sqlite:///{tmp_path}/rl.db")
    store.incr("k", 1)
    store.incr("k", 1)
    time.sleep(1.05)
    assert store.get("k") == 0
    assert store.incr("k", 1) == 1


def test_sqlite_storage_survives_file_deletion(tmp_path):
    path = tmp_path / "rl.db"
    store = SQLiteStorage(f"sqlite:///{path}")
    store.incr("k", 60)
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"rl.db{suffix}").unlink(missing_ok=True)
    assert store.incr("k", 60) == 1
    assert store.reset() == 1


def _first_sign_ins(path: str, go, out) -> None:
    store = SQLiteStorage(f"sqlite:///{path}")
    go.wait()
    try:
        out.put(sum(store.incr("login:k", 60) > 0 for _ in range(3)))
    except Exception as exc:  # reported to the test
        out.put(repr(exc))


def test_workers_starting_together_share_a_new_counter_file(tmp_path):
    """Switching a new file to WAL fails at once while another process does it too: the
    set-up takes turns, so the first sign-ins after a deploy never meet a 503."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    for trial in range(8):
        path = tmp_path / f"rl{trial}.db"
        go, out = ctx.Event(), ctx.Queue()
        workers = [ctx.Process(target=_first_sign_ins, args=(str(path), go, out))
                   for _ in range(6)]
        for worker in workers:
            worker.start()
        time.sleep(0.1)
        go.set()
        results = [out.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        assert results == [3] * 6
        assert SQLiteStorage(f"sqlite:///{path}").get("login:k") == 18


def test_sqlite_storage_needs_a_path():
    with pytest.raises(ValueError, match="path"):
        SQLiteStorage("sqlite://")


def test_session_copy_is_worthless_after_logout(app, client, auth):
    auth.login()
    stolen = _session_cookie(client)
    assert auth.logout().status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert "Staff sign in" in thief.get("/").get_data(as_text=True)
    assert thief.get("/policies/escalation").status_code == 404


def test_other_sessions_survive_one_logout(app, auth):
    other = app.test_client()
    other.post("/login", data={"username": "agent", "password": PASSWORD})
    auth.login()
    auth.logout()
    assert other.get("/policies/escalation").status_code == 200


def test_password_change_deletes_session_rows(app, auth):
    from app.accounts.auth import set_password

    auth.login()
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT COUNT(*) FROM login_sessions").fetchone()[0] == 1
    set_password(db, "agent", "another long password")
    assert db.execute("SELECT COUNT(*) FROM login_sessions").fetchone()[0] == 0


@pytest.mark.parametrize("message, status", [("database is locked", 503),
                                             ("no such table: x", 500)])
def test_database_errors_are_clean(app, message, status):
    import sqlite3

    @app.get("/_db")
    def broken():
        raise sqlite3.OperationalError(message)

    res = app.test_client().get("/_db")
    assert res.status_code == status
    assert "Traceback" not in res.get_data(as_text=True)
    if status == 503:
        assert res.headers["Retry-After"] == "5"


def test_sqlite_storage_recovers_from_a_damaged_file(tmp_path):
    path = tmp_path / "rl.db"
    store = SQLiteStorage(f"sqlite:///{path}")
    store.incr("k", 60)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"rl.db{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    fresh = SQLiteStorage(f"sqlite:///{path}")  # a worker started after the damage
    assert fresh.incr("k", 60) == 1
    assert store.incr("k", 60) == 2
    assert (tmp_path / "rl.db.damaged").exists()


@pytest.mark.parametrize("value, expected", [("0", 0), ("1", 1), ("2", 2), (True, 1),
                                             ("off", 0), (None, 0)])
def test_proxy_count(value, expected):
    from flask import Flask

    from app.accounts.security import proxy_count

    app = Flask(__name__)
    app.config["KB_PROXY_FIX"] = value
    assert proxy_count(app) == expected


@pytest.mark.parametrize("value", ["nginx", "-1", "99"])
def test_proxy_setting_refuses_nonsense(value):
    from flask import Flask

    from app.accounts.security import proxy_count
    from app.config import ConfigError

    app = Flask(__name__)
    app.config["KB_PROXY_FIX"] = value
    with pytest.raises(ConfigError, match="KB_PROXY_FIX"):
        proxy_count(app)
