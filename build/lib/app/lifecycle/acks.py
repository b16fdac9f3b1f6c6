"""Read acknowledgements: agents confirm they have read each *material* change.

A commit is material when the editor ticked "material change" (trailer ``Material: yes``).
Every staff member then has the document on their "To read" list until they acknowledge
that revision.  Cosmetic edits ask nobody to re-read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
from dataclasses import dataclass

from flask import current_app

from app.content.store import Document, store
from app.db import register_migration
from app.repo.gitrepo import Change

register_migration("acknowledgements", """
    CREATE TABLE IF NOT EXISTS acknowledgements (
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        rev TEXT NOT NULL,
        acked_at TEXT NOT NULL,
        PRIMARY KEY (user_id, kind, slug, rev)
    );
""")


@dataclass(frozen=True)
class Pending:
    doc: Document
    change: Change  # the material revision to acknowledge
    last_acked: str | None  # the revision this user acknowledged before, if any


def _material(doc: Document) -> Change | None:
    return current_app.extensions["kb_repo"].changes.last_material(doc.path)


def _acked(db: sqlite3.Connection, user_id: int) -> dict[tuple[str, str], list[str]]:
    acked: dict[tuple[str, str], list[str]] = {}
    for row in db.execute("SELECT kind, slug, rev FROM acknowledgements WHERE user_id = ? "
                          "ORDER BY acked_at DESC", (user_id,)):
        acked.setdefault((row["kind"], row["slug"]), []).append(row["rev"])
    return acked


def pending_for(db: sqlite3.Connection, user_id: int) -> list[Pending]:
    """Documents whose latest material revision this user has not acknowledged."""
    acked = _acked(db, user_id)
    materials = current_app.extensions["kb_repo"].changes.materials()
    out = []
    for doc in store().all():
        change = materials.get(doc.path)
        if change is None:
            continue
        revs = acked.get((doc.kind, doc.slug), [])
        if change.sha not in revs:
            out.append(Pending(doc, change, revs[0] if revs else None))
    out.sort(key=lambda p: p.change.when, reverse=True)
    return out


def current_material(doc: Document) -> Change | None:
    return _material(doc)


def acknowledge(db: sqlite3.Connection, *, user_id: int, doc: Document, rev: str,
                now: dt.datetime | None = None) -> bool:
    """Record that the user read ``rev``; False when ``rev`` is not the current material one
    (the page was stale: a newer material change landed meanwhile)."""
    change = _material(doc)
    if change is None or change.sha != rev:
        return False
    when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    with db:
        db.execute("INSERT OR IGNORE INTO acknowledgements (user_id, kind, slug, rev, acked_at) "
                   "VALUES (?, ?, ?, ?, ?)", (user_id, doc.kind, doc.slug, rev, when))
    return True


@dataclass(frozen=True)
class ReportRow:
    username: str
    role: str
    acked_at: str | None


@dataclass(frozen=True)
class Report:
    doc: Document
    change: Change | None
    rows: list[ReportRow]

    @property
    def done(self) -> int:
        return sum(1 for r in self.rows if r.acked_at)

    @property
    def percent(self) -> int:
        return round(100 * self.done / len(self.rows)) if self.rows else 100


def report(db: sqlite3.Connection, doc: Document) -> Report:
    """Who has acknowledged the current material revision of ``doc``, and who has not."""
    change = _material(doc)
    rows = db.execute(
        "SELECT u.username, u.role, a.acked_at FROM users u "
        "LEFT JOIN acknowledgements a ON a.user_id = u.id AND a.kind = ? AND a.slug = ? "
        "AND a.rev = ? ORDER BY a.acked_at IS NOT NULL, u.username",
        (doc.kind, doc.slug, change.sha if change else ""))
    return Report(doc, change, [ReportRow(r["username"], r["role"], r["acked_at"]) for r in rows])


def report_csv(rep: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["document", "revision", "username", "role", "acknowledged_at"])
    for row in rep.rows:
        writer.writerow([rep.doc.path, rep.change.sha if rep.change else "", row.username,
                         row.role, row.acked_at or ""])
    return buffer.getvalue()
