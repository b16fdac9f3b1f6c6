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

from flask import current_app, g, request

from app.caching.lru import SizedLRU
from app.clock import today
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


@dataclass(frozen=True)
class Owed:
    """What one staff member owes at one HEAD: their to-read list, by document."""

    pending: tuple[Pending, ...]
    by_doc: dict[tuple[str, str], Pending]  # (kind, slug) -> pending
    files: dict[tuple[str, str], str]  # (kind, slug) -> file of every document at HEAD
    acks: tuple[int, int | None]  # the user's acknowledgement rows: count, highest rowid


def _owed_size(found: Owed) -> int:
    """The documents are the store's own objects: only the list and its index count."""
    return 200 + 150 * len(found.pending) + 100 * len(found.files)


def owed(db: sqlite3.Connection, user_id: int, token: str) -> Owed:
    """``pending_for`` kept per worker, computed once per (user, HEAD, day, acknowledgements).

    Every staff page shows the to-read count and the document's notice; both depend only
    on the documents and material changes at HEAD and on the user's acknowledgement rows.
    Rows are only ever added (an acknowledgement in any worker), so their count and
    highest rowid (read from the primary-key index, one cheap query) name the user's
    current set; the session token tells a user re-created under the same id apart.
    """
    memo = g.get("kb_owed") if request.method == "GET" else None
    if memo is not None and memo[0] == (user_id, token):
        return memo[1]  # one query per page view, however many parts of it ask
    count, newest = db.execute("SELECT count(*), max(rowid) FROM acknowledgements "
                               "WHERE user_id = ?", (user_id,)).fetchone()
    git = current_app.extensions["kb_repo"]
    key = (str(current_app.config["DATABASE"]), user_id, token, git.head(), today(), count,
           newest)
    kept = current_app.extensions.setdefault("kb_owed", SizedLRU(max_bytes=8 << 20,
                                                                 size_of=_owed_size))
    found = kept.get(key)
    if found is None:
        pending = tuple(pending_for(db, user_id))
        found = Owed(pending, {(p.doc.kind, p.doc.slug): p for p in pending},
                     {(d.kind, d.slug): d.path for d in store().all()}, (count, newest))
        if git.head() == key[3]:  # a POST reads HEAD afresh: keep only what the key names
            kept.put(key, found)
    if request.method == "GET":
        g.kb_owed = ((user_id, token), found)
    return found


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
