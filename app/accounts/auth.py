"""Accounts: users in SQLite, roles, Flask-Login, and the one permission function ``can``."""

from __future__ import annotations

import functools
import secrets
import sqlite3
from dataclasses import dataclass

from flask import Flask, g, request, session
from flask_login import AnonymousUserMixin, LoginManager, current_user
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import sessions
from app.content.audience import Viewer
from app.db import get_db, register_migration

ROLES = ("agent", "editor", "approver", "admin")
USERNAME_RE = r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$"
MIN_PASSWORD = 10
# What each role may do; higher roles include the lower ones.
_ROLE_ACTIONS = {
    "agent": {"read_internal", "acknowledge"},
    "editor": {"read_internal", "acknowledge", "edit", "manage"},
    "approver": {"read_internal", "acknowledge", "edit", "manage", "approve"},
    "admin": {"read_internal", "acknowledge", "edit", "manage", "approve", "admin"},
}

# The role CHECK gains 'approver': SQLite changes a CHECK only by rebuilding the table.
register_migration("users_approver_role", """
CREATE TABLE users_new (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'editor', 'approver', 'admin')),
    session_token TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
INSERT INTO users_new (id, username, password_hash, role, session_token, created_at)
    SELECT id, username, password_hash, role, session_token, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users
""")

login_manager = LoginManager()
login_manager.login_view = "account.login"
login_manager.login_message = "Please sign in to see that page."
login_manager.session_protection = "strong"


@dataclass
class User:
    id: int
    username: str
    role: str
    session_token: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        # The token is part of the id: changing it (password change) ends every session.
        return f"{self.id}:{self.session_token}"

    @property
    def is_staff(self) -> bool:
        return True


class Anonymous(AnonymousUserMixin):
    role = None
    username = ""
    is_staff = False


login_manager.anonymous_user = Anonymous


def can(user, action: str, *, doc=None) -> bool:
    """May ``user`` perform ``action`` (read_internal, edit, manage, approve, admin,
    acknowledge)?

    ``doc`` is accepted so per-document rules have one place to live.
    """
    role = getattr(user, "role", None)
    if not getattr(user, "is_authenticated", False) or role not in _ROLE_ACTIONS:
        return False
    return action in _ROLE_ACTIONS[role]


def current_viewer() -> Viewer:
    """The audience of this request; staff may ask for the customer view with ?as=customer.

    Asked several times per page (the view, the review and acknowledgement notices): kept
    for the request, for as long as the signed-in user is the same object (signing in or
    out within the request makes a new one)."""
    user = current_user._get_current_object()
    kept = g.get("kb_viewer")
    if kept is not None and kept[0] is user:
        return kept[1]
    staff = can(user, "read_internal")
    viewer = Viewer(is_staff=staff, as_customer=staff and request.args.get("as") == "customer")
    g.kb_viewer = (user, viewer)
    return viewer


def _row_to_user(row: sqlite3.Row | None) -> User | None:
    if row is None:
        return None
    return User(id=row["id"], username=row["username"], role=row["role"],
                session_token=row["session_token"])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    ident, _, token = user_id.partition(":")
    sid = session.get(sessions.SESSION_KEY)
    if not ident.isdigit() or not token or not sid:
        return None  # no sign-in record in the cookie (or it predates them): worthless
    # The user and their sign-in record in one query (every signed-in request runs it).
    row = get_db().execute(
        "SELECT users.* FROM users JOIN login_sessions ON login_sessions.user_id = users.id "
        "WHERE users.id = ? AND login_sessions.id = ? AND login_sessions.started > ?",
        (int(ident), sid, sessions.live_since())).fetchone()
    user = _row_to_user(row)
    if user is None or not secrets.compare_digest(user.session_token, token):
        return None  # signed out, or the password changed since
    return user


def find_user(username: str) -> User | None:
    row = get_db().execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    return _row_to_user(row)


def verify_password(username: str, password: str) -> User | None:
    row = get_db().execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        # Same work as a real check so response time does not reveal which usernames exist.
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(row["password_hash"], password):
        return None
    return _row_to_user(row)


def add_user(db: sqlite3.Connection, username: str, password: str, role: str) -> None:
    import re

    if not re.match(USERNAME_RE, username):
        raise ValueError("username: 2-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
    with db:
        db.execute(
            "INSERT INTO users (username, password_hash, role, session_token) VALUES (?,?,?,?)",
            (username, generate_password_hash(password), role, secrets.token_hex(16)),
        )


def set_password(db: sqlite3.Connection, username: str, password: str) -> bool:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
    with db:
        cur = db.execute(
            "UPDATE users SET password_hash = ?, session_token = ? WHERE username = ?",
            (generate_password_hash(password), secrets.token_hex(16), username),
        )
        db.execute("DELETE FROM login_sessions WHERE user_id IN "
                   "(SELECT id FROM users WHERE username = ?)", (username,))
    return cur.rowcount == 1


def user_count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COUNT(*) FROM users").fetchone()[0]


@functools.cache
def _dummy_hash() -> str:
    """A hash to check a password against when there is no such user.  Made on the first
    failed sign-in, not at import: a scrypt hash costs 0.15 s of every start-up (each
    worker, each CLI command)."""
    return generate_password_hash(secrets.token_hex(8))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
