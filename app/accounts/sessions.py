"""Server-side record of signed-in sessions, so signing out really ends a session.

Sessions are signed cookies: without a record, a copy of the cookie taken before sign-out (a
shared contact-centre PC, a proxy log) would stay valid until it expires.  Each sign-in gets
a random id stored here and in the session; the user loader accepts a session only while its
row exists.  Sign-out deletes the row; a password change already ends every session (the
user's token changes) and deletes the rows too.
"""

from __future__ import annotations

import secrets
import sqlite3
import time

from app.db import register_migration

register_migration("login_sessions", """
CREATE TABLE IF NOT EXISTS login_sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    started REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_sessions_user ON login_sessions (user_id);
""")

SESSION_KEY = "_sid"
LIFETIME = 12 * 3600  # as PERMANENT_SESSION_LIFETIME: a row outlives no cookie


def start(db: sqlite3.Connection, user_id: int) -> str:
    sid = secrets.token_urlsafe(24)
    now = time.time()
    with db:
        db.execute("DELETE FROM login_sessions WHERE started < ?", (now - LIFETIME,))
        db.execute("INSERT INTO login_sessions (id, user_id, started) VALUES (?, ?, ?)",
                   (sid, user_id, now))
    return sid


def live_since() -> float:
    """Sessions started before this are over (the user loader checks it in its query)."""
    return time.time() - LIFETIME


def end(db: sqlite3.Connection, sid: str | None) -> None:
    if sid:
        with db:
            db.execute("DELETE FROM login_sessions WHERE id = ?", (sid,))


def end_all(db: sqlite3.Connection, user_id: int) -> None:
    with db:
        db.execute("DELETE FROM login_sessions WHERE user_id = ?", (user_id,))
