"""A SQLite storage for the ``limits`` library, so login throttling holds across workers.

``memory://`` keeps counters inside one process: with four gunicorn workers an attacker would
get four times the allowed attempts, depending on which worker answers.  Every worker opens the
same SQLite file instead; ``BEGIN IMMEDIATE`` makes each increment atomic between processes.

URI forms: ``sqlite:///absolute/path.db``; the bare ``sqlite://`` is expanded by
``security.init_app`` to ``KB_DATA_DIR/ratelimit.sqlite3``.  Supports the fixed-window strategy
(Flask-Limiter's default), which is what the login limit uses.

Each thread keeps its connection (an anonymous search is counted on every keystroke: opening
and closing a connection per call, each close checkpointing the WAL, cost more than the
search).  Before each use the file's identity (device, inode) is compared with the one the
connection opened, so a file deleted or set aside under a worker is noticed at once, and a
forked process never uses its parent's connection.  ``synchronous = NORMAL``: a commit is
not flushed to the disk (a process crash loses nothing; an operating-system crash may lose
the last counts, which are a cache of recent attempts anyway).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from limits.storage import Storage

from app.locks import exclusive

_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)  # INSERT ... RETURNING
PRUNE_EVERY = 100  # counts per thread between sweeps of expired counters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires REAL NOT NULL
)
"""


class SQLiteStorage(Storage):
    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        path = unquote(urlparse(uri or "").path)
        if not path:
            raise ValueError("sqlite rate-limit storage needs a path: sqlite:///path/to/file")
        self.path = path
        self._ready = False
        self._local = threading.local()  # .conn, .ident: (pid, device, inode) it opened
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return os.getpid(), st.st_dev, st.st_ino

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, opened again when the file is not the one it opened."""
        conn, ident = getattr(self._local, "conn", None), self._identity()
        if conn is not None and ident is not None and ident == self._local.ident:
            return conn
        self._drop()
        conn = self._connect()
        self._local.conn, self._local.ident = conn, self._identity()
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None and self._local.ident and self._local.ident[0] == os.getpid():
            conn.close()  # a parent's connection is left alone: closing it is not ours

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA synchronous = NORMAL")
        if not self._ready:
            # Switching a new file to WAL needs the file to itself and fails at once ("database
            # is locked", no busy wait) while another worker does the same: workers signing
            # their first agents in together would answer 503.  So set-up takes turns.
            try:
                with exclusive(Path(self.path + ".lock"), timeout=10.0,
                               on_timeout=sqlite3.OperationalError("database is locked")):
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._ready = True
        return conn

    def _retry(self, fn):
        """Run ``fn(conn)``, repairing the file once if it was deleted or damaged under us.

        The counters are a cache of recent attempts: losing them costs at most one window
        of throttling, while a broken file would otherwise refuse every sign-in.
        """
        try:
            return fn(self._conn())
        except sqlite3.OperationalError as exc:
            self._drop()
            if "no such table" not in str(exc):
                raise
        except sqlite3.DatabaseError as exc:
            self._drop()
            if "not a database" not in str(exc) and "malformed" not in str(exc):
                raise
            self._set_aside()
        self._ready = False
        return fn(self._conn())

    def _set_aside(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            path = Path(self.path + suffix)
            if path.exists():
                path.replace(path.with_name(path.name + ".damaged"))

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        def run(conn: sqlite3.Connection) -> int:
            now = time.time()
            self._local.counted = getattr(self._local, "counted", 0) + 1
            if self._local.counted % PRUNE_EVERY == 0:
                # Expired rows of other keys would otherwise pile up forever; they are never
                # read (``get`` and the count below skip them), so a sweep now and then will do.
                conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
            if _RETURNING:
                # One statement, atomic on its own (every anonymous keystroke is counted): an
                # expired window starts again at ``amount``.
                rows = conn.execute(
                    "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = CASE WHEN expires <= ? "
                    "THEN excluded.value ELSE value + excluded.value END, expires = CASE "
                    "WHEN expires <= ? THEN excluded.expires ELSE expires END RETURNING value",
                    (key, amount, now + expiry, now, now)).fetchall()  # to the end: committed
                return int(rows[0][0])
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM counters WHERE key = ? AND expires <= ?", (key, now))
                conn.execute(
                    "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                    (key, amount, now + expiry))
                value = conn.execute("SELECT value FROM counters WHERE key = ?",
                                     (key,)).fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return int(value)
        return self._retry(run)

    def get(self, key: str) -> int:
        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT value FROM counters WHERE key = ? AND expires > ?",
                               (key, time.time())).fetchone()
            return int(row[0]) if row else 0
        return self._retry(run)

    def get_expiry(self, key: str) -> float:
        def run(conn: sqlite3.Connection) -> float:
            row = conn.execute("SELECT expires FROM counters WHERE key = ? AND expires > ?",
                               (key, time.time())).fetchone()
            return float(row[0]) if row else time.time()
        return self._retry(run)

    def check(self) -> bool:
        try:
            self._retry(lambda conn: conn.execute("SELECT 1").fetchone())
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        def run(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM counters").rowcount
        return self._retry(run)

    def clear(self, key: str) -> None:
        self._retry(lambda conn: conn.execute("DELETE FROM counters WHERE key = ?", (key,)))
