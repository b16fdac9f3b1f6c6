"""Search analytics: one row per query an agent or customer acted on; no personal data.

Rule (see README): a submitted search page (``/search?q=``) logs one row; a result opened
from the as-you-type list logs one row with the result's address (``POST
/api/search/click``); a result opened from a search page fills in ``clicked_url`` of that
page's row.  Keystrokes of as-you-type search are never logged.  Rows hold the normalised
query, the audience searched, the result count, the clicked address and a timestamp: no
user id, no address, no session.

Rows older than ``KB_ANALYTICS_RETENTION_DAYS`` (400: a year of trends plus a month) are
deleted: by each worker at most once an hour as it logs a search, at ``kb init`` and by
``kb prune`` (docs/caching-and-limits.md).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import time

from flask import current_app

from app.clock import today
from app.db import register_migration

PRUNE_EVERY = 3600.0  # seconds between two prunes by one worker

register_migration("search_queries", """
    CREATE TABLE IF NOT EXISTS search_queries (
        id INTEGER PRIMARY KEY,
        query TEXT NOT NULL,
        audience TEXT NOT NULL CHECK (audience IN ('public', 'staff')),
        result_count INTEGER NOT NULL,
        clicked_url TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX IF NOT EXISTS search_queries_created ON search_queries (created_at);
""")

# Only document addresses are recorded: anything else is not a click on a result.
CLICK_URL_RE = re.compile(r"^/(policies|faq)/[A-Za-z0-9._/-]{1,800}(#sec-[\w-]{1,200})?$")


def record(db: sqlite3.Connection, query: str, audience: str, count: int,
           clicked_url: str | None = None, *, at: dt.datetime | None = None) -> int:
    when = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cur = db.execute("INSERT INTO search_queries (query, audience, result_count, clicked_url, "
                     "created_at) VALUES (?, ?, ?, ?, ?)",
                     (query, audience, count, clicked_url, when))
    db.commit()
    return int(cur.lastrowid)


def record_click(db: sqlite3.Connection, row_id: int, url: str, audience: str) -> bool:
    """Fill in the click of an earlier row (once, same audience); False when none fits."""
    cur = db.execute("UPDATE search_queries SET clicked_url = ? WHERE id = ? AND audience = ? "
                     "AND clicked_url IS NULL", (url, row_id, audience))
    db.commit()
    return cur.rowcount == 1


def retention_cutoff() -> dt.date | None:
    """The first day kept (rows of earlier days go); None when retention is off (0)."""
    days = int(current_app.config["KB_ANALYTICS_RETENTION_DAYS"])
    return today() - dt.timedelta(days=days) if days > 0 else None


def prune(db: sqlite3.Connection, before: dt.date) -> int:
    """Delete the rows logged before the UTC day ``before``; how many went."""
    # created_at is 'YYYY-MM-DDTHH:MM:SSZ': text order is time order, and every time on
    # the day ``before`` sorts after the bare date.
    cur = db.execute("DELETE FROM search_queries WHERE created_at < ?", (before.isoformat(),))
    db.commit()
    return cur.rowcount


def prune_expired(db: sqlite3.Connection) -> int:
    cutoff = retention_cutoff()
    return prune(db, cutoff) if cutoff else 0


class _Schedule:
    """When this worker (this app in this process) last pruned."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next = 0.0

    def due(self, now: float) -> bool:
        with self.lock:
            if now < self.next:
                return False
            self.next = now + PRUNE_EVERY
            return True


def prune_now_and_then(db: sqlite3.Connection) -> int | None:
    """Prune if this worker has not done so within the hour; None when it was not due."""
    schedule = current_app.extensions.setdefault("kb_search_log_prune", _Schedule())
    return prune_expired(db) if schedule.due(time.monotonic()) else None
