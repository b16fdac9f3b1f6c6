"""Signing in and out: CSRF, throttling, safe redirects, session cookies."""

import re

import pytest

from app import create_app
from app.accounts.auth import add_user, can, set_password
from app.db import connect
from tests.conftest import PASSWORD


def test_login_and_logout(client, auth):
    res = auth.login()
    assert res.status_code == 302
    assert "Sign out" in client.get("/").get_data(as_text=True)
    assert auth.logout().status_code == 302
    assert "Staff sign in" in client.get("/").get_data(as_text=True)


def test_wrong_password(client, auth):
    res = auth.login(password="nope nope nope")
    assert res.status_code == 401
    assert "Wrong username or password" in res.get_data(as_text=True)


def test_logout_requires_post(client, auth):
    auth.login()
    assert client.get("/logout").status_code == 405


@pytest.mark.parametrize("target, expected", [
    ("/policies/refunds", "/policies/refunds"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_redirect_is_safe(client, target, expected):
    res = client.post("/login?next=" + target, data={"username": "agent", "password": PASSWORD})
    assert res.headers["Location"] == expected


def test_session_cookie_flags(client, auth):
    cookie = auth.login().headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.fixture
def strict_app(tmp_path, content_dir):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32,
                      "KB_DATA_DIR": str(tmp_path / "strict"), "KB_CONTENT_DIR": str(content_dir),
                      "KB_LOGIN_LIMIT": "3 per minute"})
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app


def _token(client, url="/login"):
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_csrf_required_on_login_and_logout(strict_app):
    client = strict_app.test_client()
    res = client.post("/login", data={"username": "agent", "password": PASSWORD})
    assert res.status_code == 400 and "form expired" in res.get_data(as_text=True)
    res = client.post("/login", data={"username": "agent", "password": PASSWORD,
                                      "csrf_token": _token(client)})
    assert res.status_code == 302
    assert client.post("/logout").status_code == 400
    assert "Sign out" in client.get("/").get_data(as_text=True)


def test_login_throttled_with_clear_message(strict_app):
    client = strict_app.test_client()
    token = _token(client)
    for _ in range(3):
        res = client.post("/login", data={"username": "agent", "password": "wrong password!",
                                          "csrf_token": token})
        assert res.status_code == 401
    res = client.post("/login", data={"username": "agent", "password": PASSWORD,
                                      "csrf_token": token})
    assert res.status_code == 429
    assert "Too many attempts" in res.get_data(as_text=True)
    # another username from the same address is not locked out by this one
    res = client.post("/login", data={"username": "someone", "password": "x" * 12,
                                      "csrf_token": token})
    assert res.status_code == 401


def _spray_app(tmp_path, content_dir, limit: str):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32,
                      "KB_DATA_DIR": str(tmp_path / "spray"), "KB_CONTENT_DIR": str(content_dir),
                      "KB_LOGIN_LIMIT": "5 per minute", "KB_LOGIN_ADDRESS_LIMIT": limit})
    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app


def test_one_address_spraying_many_usernames_is_stopped(tmp_path, content_dir):
    client = _spray_app(tmp_path, content_dir, "4 per 10 minutes").test_client()
    token = _token(client)

    guess = "Spring2026!!"

    def attempt(username: str, password: str = guess, addr: str = "127.0.0.1"):
        return client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token},
                           environ_base={"REMOTE_ADDR": addr})

    # one guess per username never reaches the per-username limit (5 per minute)...
    assert [attempt(f"user{i}").status_code for i in range(4)] == [401] * 4
    # ...but the address is stopped, whatever the next username, even with the right password
    res = attempt("user99")
    assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
    text = res.get_data(as_text=True)
    assert "Too many failed sign-ins from your network" in text and "try again in" in text
    assert attempt("agent", PASSWORD).status_code == 429
    # another address is not affected
    assert attempt("agent", PASSWORD, addr="10.1.2.3").status_code == 302


def test_successful_sign_ins_do_not_count_against_the_address(tmp_path, content_dir):
    """A shift of agents behind one NAT address signs in without locking itself out."""
    client = _spray_app(tmp_path, content_dir, "2 per 10 minutes").test_client()
    for _ in range(5):
        res = client.post("/login", data={"username": "agent", "password": PASSWORD,
                                          "csrf_token": _token(client)})
        assert res.status_code == 302
        home = client.get("/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_secret_key_required_outside_testing(tmp_path, monkeypatch):
    from app.config import ConfigError

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"KB_DATA_DIR": str(tmp_path / "nokey")})


def test_secret_key_read_from_data_dir(tmp_path, monkeypatch):
    from app.config import generate_secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    generate_secret_key(tmp_path / "withkey")
    app = create_app({"KB_DATA_DIR": str(tmp_path / "withkey")})
    assert len(app.config["SECRET_KEY"]) == 64


def test_password_change_ends_sessions(app, client, auth):
    auth.login()
    assert "Sign out" in client.get("/").get_data(as_text=True)
    with app.app_context():
        db = connect(app.config["DATABASE"])
        set_password(db, "agent", "a brand new password")
    assert "Staff sign in" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("role, action, allowed", [
    ("agent", "read_internal", True), ("agent", "edit", False),
    ("editor", "edit", True), ("editor", "admin", False), ("admin", "admin", True),
    (None, "read_internal", False),
])
def test_can(role, action, allowed):
    class U:
        is_authenticated = role is not None

    U.role = role
    assert can(U(), action) is allowed
