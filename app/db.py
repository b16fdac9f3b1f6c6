"""SQLite for users, acknowledgements, feedback and analytics: one connection per request.

The schema is a list of migrations applied in order; ``PRAGMA user_version`` records how
far a database has come, so upgrading an old data directory is automatic.  Other modules
append their own tables through ``register_migration`` at import time.
"""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path

from flask import Flask, current_app, g

MIGRATIONS: list[str] = [
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('agent', 'editor', 'admin')),
        session_token TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (datetime('now'))
    );
    """,
]


def register_migration(sql: str) -> None:
    """Append a schema step; call at import time, never reorder existing steps."""
    if sql not in MIGRATIONS:
        MIGRATIONS.append(sql)


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=15, detect_types=sqlite3.PARSE_DECLTYPES)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 15000")
    return conn


def migrate(conn: sqlite3.Connection, lock_path: str | Path) -> int:
    """Apply pending migrations; returns the schema version reached.

    Several gunicorn workers start at once: a file lock makes one of them migrate while the
    others wait and then find nothing left to do.
    """
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.executescript(f"BEGIN; {sql}; PRAGMA user_version = {number}; COMMIT;")
    return len(MIGRATIONS)


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    Path(app.config["DATABASE"]).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(app.config["DATABASE"])
    try:
        migrate(conn, str(app.config["DATABASE"]) + ".lock")
    finally:
        conn.close()
