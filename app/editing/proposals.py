"""Proposals: changes waiting for approval, each a branch ``proposals/<id>-<slug>``.

The text lives in git (the branch; ``refs/portal/proposals/<id>`` keeps the last tip the
portal saw, so a deleted or force-pushed branch loses nothing).  What changes often and is
asked of often -- status, comments, approvals, notices -- lives in SQLite: the queue, the
header badge and the audit are queries, not walks over git notes.

An approval counts for the tip it was given on: a new commit (an update, a conflict
resolution, a force-push) needs approving again.  A branch pushed by a git user is picked up
by ``sync``; its author is the author of its first commit.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass, field

from app.content.store import repo
from app.db import get_db, register_migration
from app.editing import workflow
from app.repo import branches
from app.repo.branches import BranchCommit

STATUSES = ("open", "changes_requested", "approved", "published", "withdrawn")
ACTIVE = ("open", "changes_requested", "approved")
LABELS = {"open": "Open", "changes_requested": "Changes requested", "approved": "Approved",
          "published": "Published", "withdrawn": "Withdrawn"}
_BRANCH_RE = re.compile(r"^proposals/([1-9][0-9]{0,8})-[A-Za-z0-9._-]{1,80}$")

register_migration("proposals", """
CREATE TABLE IF NOT EXISTS proposals (
    id INTEGER PRIMARY KEY,
    branch TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    author TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    tip TEXT NOT NULL DEFAULT '',
    paths TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    published_commit TEXT NOT NULL DEFAULT '',
    published_at TEXT NOT NULL DEFAULT '',
    published_by TEXT NOT NULL DEFAULT '',
    emergency TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS proposal_events (
    id INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES proposals (id),
    kind TEXT NOT NULL,
    username TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    tip TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS proposal_events_by_proposal ON proposal_events (proposal_id);
CREATE TABLE IF NOT EXISTS notices (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL COLLATE NOCASE,
    proposal_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS notices_by_user ON notices (username, seen);
""")


class ProposalError(Exception):
    """An action that cannot go ahead, with the reason to show; nothing was changed."""


@dataclass
class Event:
    kind: str
    username: str
    body: str
    tip: str
    created_at: str


@dataclass
class Proposal:
    id: int
    branch: str
    title: str
    author: str
    status: str
    tip: str  # the tip recorded when last seen
    paths: list[str]
    created_at: str
    updated_at: str
    published_commit: str = ""
    published_at: str = ""
    published_by: str = ""
    emergency: str = ""
    events: list[Event] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"

    @property
    def archive_ref(self) -> str:
        return f"{branches.ARCHIVE}{self.id}"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def label(self) -> str:
        return LABELS.get(self.status, self.status)

    @property
    def url(self) -> str:
        return f"/proposals/{self.id}"

    def approvals(self, tip: str | None = None) -> list[str]:
        """Users whose approval counts for ``tip`` (default: the recorded tip)."""
        tip = tip or self.tip
        return list(dict.fromkeys(e.username for e in self.events
                                  if e.kind == "approve" and e.tip == tip))


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _row(row: sqlite3.Row) -> Proposal:
    data = dict(row)
    data["paths"] = json.loads(data["paths"] or "[]")
    return Proposal(**data)


def get(proposal_id: int, *, with_events: bool = True) -> Proposal | None:
    row = get_db().execute("SELECT * FROM proposals WHERE id = ?", (proposal_id,)).fetchone()
    if row is None:
        return None
    proposal = _row(row)
    if with_events:
        proposal.events = [Event(r["kind"], r["username"], r["body"], r["tip"], r["created_at"])
                           for r in get_db().execute(
                               "SELECT * FROM proposal_events WHERE proposal_id = ? ORDER BY id",
                               (proposal_id,))]
    return proposal


def listing(statuses: tuple[str, ...] = ACTIVE) -> list[Proposal]:
    marks = ",".join("?" * len(statuses))
    rows = get_db().execute(f"SELECT * FROM proposals WHERE status IN ({marks}) "  # noqa: S608 - placeholders only
                            "ORDER BY id DESC", statuses)
    return [_row(r) for r in rows]


def open_for(author: str, path: str) -> Proposal | None:
    """The author's open proposal that changes ``path``, if any (newest first)."""
    for proposal in listing():
        if proposal.author.lower() == author.lower() and path in proposal.paths:
            return proposal
    return None


def record(proposal_id: int, kind: str, username: str, body: str = "", tip: str = "") -> None:
    db = get_db()
    with db:
        db.execute("INSERT INTO proposal_events (proposal_id, kind, username, body, tip, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                   (proposal_id, kind, username, body, tip, now()))


def set_status(proposal_id: int, status: str, *, expect: tuple[str, ...] | None = None,
               **extra: str) -> bool:
    """Change the status (only from one of ``expect``); False when it was not there: the
    compare-and-swap that makes two approvers at once publish once."""
    sets = ", ".join(["status = ?", "updated_at = ?", *(f"{k} = ?" for k in extra)])
    args: list = [status, now(), *extra.values(), proposal_id]
    where = "id = ?"
    if expect:
        where += f" AND status IN ({','.join('?' * len(expect))})"
        args.extend(expect)
    db = get_db()
    with db:
        cur = db.execute(f"UPDATE proposals SET {sets} WHERE {where}", args)  # noqa: S608 - names are code constants
    return cur.rowcount == 1


def slug_of(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].strip("-")
    return slug or "change"


def allocate(title: str, author: str, paths: list[str]) -> Proposal:
    """A new row with the next free id (also past any pushed branch's id)."""
    pushed = [int(m.group(1)) for name in branches.refs(repo())
              if (m := _BRANCH_RE.match(name.removeprefix("refs/heads/")))]
    db = get_db()
    with db:
        top = db.execute("SELECT COALESCE(MAX(id), 0) FROM proposals").fetchone()[0]
        new_id = max([top, *pushed]) + 1
        branch = f"proposals/{new_id}-{slug_of(title)}"
        stamp = now()
        db.execute("INSERT INTO proposals (id, branch, title, author, paths, created_at, "
                   "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (new_id, branch, title[:200], author, json.dumps(paths), stamp, stamp))
    return get(new_id)


def forget(proposal_id: int) -> None:
    """Drop a row whose branch was never made (a failed first save)."""
    db = get_db()
    with db:
        db.execute("DELETE FROM proposal_events WHERE proposal_id = ?", (proposal_id,))
        db.execute("DELETE FROM proposals WHERE id = ?", (proposal_id,))


def note_tip(proposal: Proposal, tip: str, username: str, kind: str = "update") -> None:
    """Record a new tip (and the files it changes); an update reopens a proposal."""
    git = repo()
    base = branches.merge_base(git, git.head(), tip) or git.head()
    paths = branches.changed_paths(git, base, tip)
    status = "open" if proposal.status in ACTIVE else proposal.status
    db = get_db()
    with db:
        db.execute("UPDATE proposals SET tip = ?, paths = ?, status = ?, updated_at = ? "
                   "WHERE id = ?", (tip, json.dumps(paths), status, now(), proposal.id))
    branches.keep(git, proposal.archive_ref, tip)
    record(proposal.id, kind, username, tip=tip)


def sync() -> list[str]:
    """Pick up pushed branches and moved tips; returns problems worth showing."""
    git = repo()
    problems: list[str] = []
    known = {p.branch: p for p in listing(STATUSES)}
    by_id = {p.id: p for p in known.values()}
    for ref, tip in branches.refs(git).items():
        name = ref.removeprefix("refs/heads/")
        match = _BRANCH_RE.match(name)
        if match is None:
            problems.append(f"Branch {name} is not named proposals/<number>-<words>; "
                            "it is not listed.")
            continue
        proposal = known.get(name)
        if proposal is None:
            taken = by_id.get(int(match.group(1)))
            if taken is not None:
                problems.append(f"Branch {name} uses number {taken.id}, which belongs to "
                                f"{taken.branch}; push it under another number.")
                continue
            proposal = _adopt(int(match.group(1)), name, tip)
            if proposal is None:
                continue
        if proposal.tip != tip and proposal.active:
            rewritten = bool(proposal.tip) and not git.is_ancestor(proposal.tip, tip)
            note_tip(proposal, tip, "git", "rewritten" if rewritten else "update")
    _unstick()
    return problems


STUCK_SECONDS = 600  # "approved" (publishing) for longer than this: the publisher died


def _unstick() -> None:
    """A publish interrupted (a killed worker) leaves "approved": reopen it, or mark it
    published when its tip reached main after all (the journal finished the merge)."""
    git = repo()
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=STUCK_SECONDS)).isoformat()
    for proposal in listing(("approved",)):
        if proposal.tip and git.is_ancestor(proposal.tip, git.head()):
            set_status(proposal.id, "published", expect=("approved",))
            record(proposal.id, "publish", "portal", tip=proposal.tip)
        elif proposal.updated_at < cutoff:
            set_status(proposal.id, "open", expect=("approved",))
            record(proposal.id, "reopened", "portal", body="publishing was interrupted")


def _adopt(proposal_id: int, branch: str, tip: str) -> Proposal | None:
    """A row for a branch a git user pushed."""
    git = repo()
    base = branches.merge_base(git, git.head(), tip)
    found: list[BranchCommit] = branches.commits(git, base, tip) if base else []
    if not found:
        return None  # nothing to propose (already merged, or unrelated history)
    stamp = now()
    db = get_db()
    with db:
        cur = db.execute("INSERT OR IGNORE INTO proposals (id, branch, title, author, "
                         "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (proposal_id, branch, found[0].subject[:200] or branch,
                          found[0].author, stamp, stamp))
    if cur.rowcount != 1:
        return None
    return get(proposal_id)


def published_by_commit(shas: list[str]) -> dict[str, Proposal]:
    """Published proposals by their merge commit (for "approved by" in a history)."""
    wanted = [s for s in shas if s]
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = get_db().execute(f"SELECT id FROM proposals WHERE published_commit IN ({marks})",  # noqa: S608 - placeholders only
                            wanted).fetchall()
    found = [get(r[0]) for r in rows]
    return {p.published_commit: p for p in found if p is not None}


def badge_count(username: str) -> int:
    """Open proposals this user could approve (not their own)."""
    return sum(1 for p in listing(("open",)) if p.author.lower() != username.lower())


def notices_for(username: str) -> list[sqlite3.Row]:
    return get_db().execute("SELECT * FROM notices WHERE username = ? AND seen = 0 "
                            "ORDER BY id DESC", (username,)).fetchall()


def mark_seen(username: str, notice_id: int) -> None:
    db = get_db()
    with db:
        db.execute("UPDATE notices SET seen = 1 WHERE id = ? AND username = ?",
                   (notice_id, username))


def add_notice(username: str, proposal_id: int, text: str) -> None:
    db = get_db()
    with db:
        db.execute("INSERT INTO notices (username, proposal_id, text, created_at) "
                   "VALUES (?, ?, ?, ?)", (username, proposal_id, text, now()))


def rules() -> workflow.Workflow:
    names = [r[0] for r in get_db().execute("SELECT username FROM users")]
    return workflow.load(known_users=names)
