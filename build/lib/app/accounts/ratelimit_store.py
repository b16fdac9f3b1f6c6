"""A SQLite storage for the ``limits`` library, so login throttling holds across workers.

``memory://`` keeps counters inside one process: with four gunicorn workers an attacker would
get four times the allowed attempts, depending on which worker answers.  Every worker opens the
same SQLite file instead; ``BEGIN IMMEDIATE`` makes each increment atomic between processes.

URI forms: ``sqlite:///absolute/path.db``; the bare ``sqlite://`` is expanded by
``security.init_app`` to ``KB_DATA_DIR/ratelimit.sqlite3``.  Supports the fixed-window strategy
(Flask-Limiter's default), which is what the login limit uses.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlparse

from limits.storage import Storage

from app.locks import exclusive

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
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        # One short connection per call: logins are rare, and this stays safe with threads,
        # forks (gunicorn preload) and a file deleted by an operator.
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
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
            with closing(self._connect()) as conn:
                return fn(conn)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
        except sqlite3.DatabaseError as exc:
            if "not a database" not in str(exc) and "malformed" not in str(exc):
                raise
            self._set_aside()
        self._ready = False
        with closing(self._connect()) as conn:
            return fn(conn)

    def _set_aside(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            path = Path(self.path + suffix)
            if path.exists():
                path.replace(path.with_name(path.name + ".damaged"))

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        def run(conn: sqlite3.Connection) -> int:
            now = time.time()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM counters WHERE key = ? AND expires <= ?", (key, now))
                conn.execute(
                    "INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                    (key, amount, now + expiry))
                value = conn.execute("SELECT value FROM counters WHERE key = ?",
                                     (key,)).fetchone()[0]
                # Expired rows of other keys would otherwise pile up forever.
                conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
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
