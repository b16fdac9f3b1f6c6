"""Search analytics: one row per query an agent or customer acted on; no personal data.

Rule (see README): a submitted search page (``/search?q=``) logs one row; a result opened
from the as-you-type list logs one row with the result's address (``POST
/api/search/click``); a result opened from a search page fills in ``clicked_url`` of that
page's row.  Keystrokes of as-you-type search are never logged.  Rows hold the normalised
query, the audience searched, the result count, the clicked address and a timestamp: no
user id, no address, no session.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

from app.db import register_migration

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
