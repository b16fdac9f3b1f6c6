"""SQLite for users, acknowledgements, feedback and analytics: one connection per thread.

The schema is a set of named migrations; the ``schema_migrations`` table records which ones
a database has, so upgrading an old data directory is automatic and the order in which
modules happen to be imported never matters.  Each module registers its own tables with
``register_migration(name, sql)`` at import time.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

from flask import Flask, current_app, g

MIGRATIONS: dict[str, str] = {
    "users": """
    CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('agent', 'editor', 'admin')),
        session_token TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (datetime('now'))
    );
    """,
}


def register_migration(name: str, sql: str) -> None:
    """Add a named schema step (call at import time).  Never change a released step:
    register a new name for every later change."""
    if MIGRATIONS.get(name, sql) != sql:
        raise ValueError(f"migration {name!r} registered twice with different SQL")
    MIGRATIONS[name] = sql


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=15, detect_types=sqlite3.PARSE_DECLTYPES)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 15000")
    return conn


def migrate(conn: sqlite3.Connection, lock_path: str | Path) -> int:
    """Apply the migrations this database does not have yet; returns how many exist.

    Several gunicorn workers start at once: a file lock makes one of them migrate while the
    others wait and then find nothing left to do.
    """
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
                     "applied_at TEXT NOT NULL DEFAULT (datetime('now')))")
        conn.commit()
        applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        # As SQLite's own recipe for changing a table: foreign keys off while a step runs,
        # so rebuilding a table (a new CHECK) does not cascade into the rows that refer to it.
        conn.execute("PRAGMA foreign_keys = OFF")
        for name, sql in MIGRATIONS.items():
            if name not in applied:
                quoted = name.replace("'", "''")
                conn.executescript(f"BEGIN; {sql}; INSERT INTO schema_migrations (name) "  # noqa: S608 - names are code constants
                                   f"VALUES ('{quoted}'); COMMIT;")
        conn.execute("PRAGMA foreign_keys = ON")
    return len(MIGRATIONS)


_KEEP = 4  # open connections kept per thread (one per database; tests make many apps)
_threads = threading.local()


def get_db() -> sqlite3.Connection:
    """This thread's connection to the app's database, reused across requests.

    Opening SQLite and setting its pragmas cost more than the few queries a page makes;
    a kept connection never holds a transaction between requests (``close_db``), so it
    sees every other worker's commits like a new one would.
    """
    if "db" not in g:
        g.db = _kept(str(current_app.config["DATABASE"]))
    return g.db


def _kept(path: str) -> sqlite3.Connection:
    kept: OrderedDict[str, sqlite3.Connection] = getattr(_threads, "conns", None) or OrderedDict()
    _threads.conns = kept
    conn = kept.pop(path, None)
    if conn is None:
        conn = connect(path)
    kept[path] = conn
    while len(kept) > _KEEP:
        kept.popitem(last=False)[1].close()
    return conn


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None and db.in_transaction:
        db.rollback()  # uncommitted work is dropped, as closing would


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    Path(app.config["DATABASE"]).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(app.config["DATABASE"])
    try:
        migrate(conn, str(app.config["DATABASE"]) + ".lock")
    finally:
        conn.close()
