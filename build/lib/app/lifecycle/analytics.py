"""Search analytics for owners: what customers and agents look for, and do not find.

Reads the query log that ``search_log`` writes (one row per settled query: normalised
text, audience, result count, clicked result; nothing personal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

AUDIENCES = ("public", "staff")
PERIODS = (7, 30, 90)


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
    since = ((now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")  # the log's own timestamp format, so text order is time order
    sql, args = "created_at >= ?", [since]
    if audience in AUDIENCES:
        sql += " AND audience = ?"
        args.append(audience)
    return sql, args


def _stats(db, extra: str, *, days: int, audience: str | None,
           limit: int, now: dt.datetime | None) -> list[QueryStat]:
    where, args = _where(days, audience, now)
    rows = db.execute(
        f"SELECT query, COUNT(*) AS n, AVG(result_count) AS r, COUNT(clicked_url) AS c "  # noqa: S608
        f"FROM search_queries WHERE {where} {extra} GROUP BY query "
        "ORDER BY n DESC, query LIMIT ?", [*args, limit])
    return [QueryStat(r["query"], r["n"], round(r["r"], 1), r["c"]) for r in rows]


def top_queries(db, *, days: int = 30, audience: str | None = None, limit: int = 20,
                now: dt.datetime | None = None) -> list[QueryStat]:
    return _stats(db, "", days=days, audience=audience, limit=limit, now=now)


def zero_result_queries(db, *, days: int = 30, audience: str | None = None, limit: int = 20,
                        now: dt.datetime | None = None) -> list[QueryStat]:
    return _stats(db, "AND result_count = 0", days=days, audience=audience, limit=limit, now=now)


def no_click_queries(db, *, days: int = 30, audience: str | None = None, limit: int = 20,
                     now: dt.datetime | None = None) -> list[QueryStat]:
    return _stats(db, "AND result_count > 0 AND clicked_url IS NULL", days=days, audience=audience,
                  limit=limit, now=now)


def totals(db, *, days: int = 30, now: dt.datetime | None = None) -> dict[str, int]:
    where, args = _where(days, None, now)
    rows = db.execute(f"SELECT audience, COUNT(*) AS n FROM search_queries WHERE {where} "  # noqa: S608
                      "GROUP BY audience", args)
    out = dict.fromkeys(AUDIENCES, 0)
    out.update({r["audience"]: r["n"] for r in rows})
    return out
