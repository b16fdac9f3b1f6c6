"""Search analytics for owners: what customers and agents look for, and do not find.

The search feature logs one row per settled query (normalised text, audience, result count,
clicked result).  Nothing personal is stored: no user id, no address, no session.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from dataclasses import dataclass

from .db import register_migration

AUDIENCES = ("public", "staff")
PERIODS = (7, 30, 90)
MAX_QUERY = 200

register_migration("search_queries", """
    CREATE TABLE search_queries (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        query TEXT NOT NULL,
        audience TEXT NOT NULL CHECK (audience IN ('public', 'staff')),
        results INTEGER NOT NULL,
        clicked TEXT
    );
    CREATE INDEX search_queries_time ON search_queries (created_at);
""")


def normalise(query: str) -> str:
    """Lower case, single spaces, no outer punctuation: "Refund  policy?" -> "refund policy"."""
    text = " ".join(query.lower().split())[:MAX_QUERY]
    return re.sub(r"^[^\w\"]+|[^\w\"]+$", "", text)


def log_query(db: sqlite3.Connection, *, query: str, audience: str, results: int,
              now: dt.datetime | None = None) -> int | None:
    """Record a query; returns its id (for the click), or None for an empty query."""
    text = normalise(query)
    if not text or audience not in AUDIENCES:
        return None
    when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    with db:
        cur = db.execute("INSERT INTO search_queries (created_at, query, audience, results) "
                         "VALUES (?, ?, ?, ?)", (when, text, audience, max(0, int(results))))
    return cur.lastrowid


def log_click(db: sqlite3.Connection, *, query_id: int, url: str) -> bool:
    """Attach the clicked result to its query (first click wins)."""
    if not url.startswith("/") or url.startswith("//"):
        return False
    with db:
        cur = db.execute("UPDATE search_queries SET clicked = ? WHERE id = ? AND clicked IS NULL",
                         (url[:300], query_id))
    return cur.rowcount == 1


@dataclass(frozen=True)
class QueryStat:
    query: str
    searches: int
    results: float  # average result count
    clicks: int

    @property
    def click_rate(self) -> int:
        return round(100 * self.clicks / self.searches) if self.searches else 0


def _where(days: int, audience: str | None, now: dt.datetime | None) -> tuple[str, list]:
    since = ((now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)).isoformat(
        timespec="seconds")
    sql, args = "created_at >= ?", [since]
    if audience in AUDIENCES:
        sql += " AND audience = ?"
        args.append(audience)
    return sql, args


def _stats(db: sqlite3.Connection, extra: str, *, days: int, audience: str | None,
           limit: int, now: dt.datetime | None) -> list[QueryStat]:
    where, args = _where(days, audience, now)
    rows = db.execute(
        f"SELECT query, COUNT(*) AS n, AVG(results) AS r, COUNT(clicked) AS c "  # noqa: S608
        f"FROM search_queries WHERE {where} {extra} GROUP BY query "
        "ORDER BY n DESC, query LIMIT ?", [*args, limit])
    return [QueryStat(r["query"], r["n"], round(r["r"], 1), r["c"]) for r in rows]


def top_queries(db, *, days: int = 30, audience: str | None = None, limit: int = 20,
                now: dt.datetime | None = None) -> list[QueryStat]:
    return _stats(db, "", days=days, audience=audience, limit=limit, now=now)


def zero_result_queries(db, *, days: int = 30, audience: str | None = None, limit: int = 20,
                        now: dt.datetime | None = None) -> list[QueryStat]:
    return _stats(db, "AND results = 0", days=days, audience=audience, limit=limit, now=now)


def no_click_queries(db, *, days: int = 30, audience: str | None = None, limit: int = 20,
                     now: dt.datetime | None = None) -> list[QueryStat]:
    return _stats(db, "AND results > 0 AND clicked IS NULL", days=days, audience=audience,
                  limit=limit, now=now)


def totals(db, *, days: int = 30, now: dt.datetime | None = None) -> dict[str, int]:
    where, args = _where(days, None, now)
    rows = db.execute(f"SELECT audience, COUNT(*) AS n FROM search_queries WHERE {where} "  # noqa: S608
                      "GROUP BY audience", args)
    out = dict.fromkeys(AUDIENCES, 0)
    out.update({r["audience"]: r["n"] for r in rows})
    return out
