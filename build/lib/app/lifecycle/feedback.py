"""Reader feedback: "Was this helpful?" with an optional comment, stored anonymously."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from app.db import register_migration

MAX_COMMENT = 500

register_migration("feedback", """
    CREATE TABLE IF NOT EXISTS feedback (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        helpful INTEGER NOT NULL CHECK (helpful IN (0, 1)),
        comment TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX IF NOT EXISTS feedback_doc ON feedback (kind, slug, created_at);
""")


@dataclass(frozen=True)
class FeedbackSummary:
    kind: str
    slug: str
    yes: int
    no: int

    @property
    def total(self) -> int:
        return self.yes + self.no

    @property
    def helpful_percent(self) -> int | None:
        return round(100 * self.yes / self.total) if self.total else None


def record(db: sqlite3.Connection, *, kind: str, slug: str, helpful: bool, comment: str = "",
           now: dt.datetime | None = None) -> None:
    """Store one vote.  No user id, address or cookie is kept: feedback is anonymous."""
    comment = " ".join(comment.split())[:MAX_COMMENT]
    when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    with db:
        db.execute("INSERT INTO feedback (created_at, kind, slug, helpful, comment) "
                   "VALUES (?, ?, ?, ?, ?)", (when, kind, slug, int(helpful), comment))


def summaries(db: sqlite3.Connection) -> dict[tuple[str, str], FeedbackSummary]:
    rows = db.execute("SELECT kind, slug, SUM(helpful) AS yes, SUM(1 - helpful) AS no "
                      "FROM feedback GROUP BY kind, slug")
    return {(r["kind"], r["slug"]): FeedbackSummary(r["kind"], r["slug"], r["yes"], r["no"])
            for r in rows}


def recent_comments(db: sqlite3.Connection, *, limit: int = 20,
                    kind: str | None = None, slug: str | None = None) -> list[sqlite3.Row]:
    sql = "SELECT * FROM feedback WHERE comment != ''"
    args: list = []
    if kind and slug:
        sql += " AND kind = ? AND slug = ?"
        args += [kind, slug]
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    return db.execute(sql, [*args, limit]).fetchall()
