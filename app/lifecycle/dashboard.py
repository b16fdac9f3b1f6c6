"""Policy lifecycle for owners: review state per document and the owners' dashboard rows.

Review state is staff business: ``review_notice`` returns nothing for anyone who does not
see internal content, so templates can call it without deciding audience themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from flask import current_app

from app.accounts.auth import current_viewer
from app.caching.lru import SizedLRU
from app.clock import today
from app.content import synonyms
from app.content.audience import project_body
from app.content.store import FRONT_MATTER_RE, Document, store
from app.editing import save as editing
from app.lifecycle import clarity
from app.lifecycle.review import ReviewStatus, add_months, review_status
from app.repo.gitrepo import Change

RECENT_DAYS = 30
_MISSING = object()
MAX_ROWS = 200


def status_of(doc: Document, *, on: dt.date | None = None) -> ReviewStatus:
    repo = current_app.extensions["kb_repo"]
    material = repo.changes.last_material(doc.path) or repo.changes.last(doc.path)
    return review_status(doc.review_by, material.when.date() if material else None,
                         today=on or today(),
                         interval_months=int(current_app.config["KB_REVIEW_INTERVAL_MONTHS"]))


def review_notice(doc: Document) -> ReviewStatus | None:
    """The overdue banner for agents; None for customers (and when nothing is overdue).

    It names the document at HEAD (projections may drop review fields), so it is kept per
    worker by (HEAD, day, document, interval): every staff page view asks for it.
    """
    if not current_viewer().sees_internal:
        return None
    key = (current_app.extensions["kb_repo"].head(), today(), doc.kind, doc.slug,
           current_app.config["KB_REVIEW_INTERVAL_MONTHS"])
    kept = current_app.extensions.setdefault("kb_review_notices",
                                             SizedLRU(max_bytes=1 << 20, size_of=lambda v: 300))
    found = kept.get(key, _MISSING)
    if found is not _MISSING:
        return found
    original = store().get(doc.kind, doc.slug)
    status = status_of(original or doc)
    notice = status if status.overdue else None
    if original is not None and key[0] == current_app.extensions["kb_repo"].head():
        kept.put(key, notice)  # without the file at HEAD the answer is the shown version's
    return notice


@dataclass
class Row:
    doc: Document
    review: ReviewStatus
    changed: Change | None
    findings: list[clarity.Finding]


_jargon_cache: dict[str, list[dict]] = {}  # blob id -> entries (a blob never changes)


def jargon_list() -> list[dict]:
    """``content/jargon.yml`` as committed: a list of ``{term, hint}``; a broken file means
    no jargon."""
    blob = store().blob_of("jargon.yml")
    if not blob:
        return []
    cached = _jargon_cache.get(blob)
    if cached is not None:
        return cached
    try:
        data = yaml.safe_load((store().committed("jargon.yml") or b"").decode("utf-8")) or []
    except (yaml.YAMLError, UnicodeDecodeError):
        current_app.logger.warning("jargon.yml cannot be read; clarity checks skip jargon")
        data = []
    entries = [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
    _jargon_cache.clear()  # one file: only its current version is worth keeping
    _jargon_cache[blob] = entries
    return entries


def findings_for(doc: Document) -> list[clarity.Finding]:
    return clarity_findings(doc.body, public=doc.is_public)


def clarity_findings(body: str, *, public: bool) -> list[clarity.Finding]:
    """Clarity advice for a body; the grade target applies to what customers would read."""
    public_text = project_body(body, sees_internal=False) if public else None
    return clarity.check(body, public_text=public_text, jargon=jargon_list())


def dashboard_rows(*, view: str, owner: str | None, sort: str) -> list[Row]:
    """Rows for one dashboard tab: overdue, due (within 30 days), mine, recent or all."""
    repo = current_app.extensions["kb_repo"]
    day = today()
    rows = []
    for doc in store().all():
        review = status_of(doc, on=day)
        changed = repo.changes.last(doc.path)
        if view == "overdue" and review.state != "overdue":
            continue
        if view == "due" and review.state != "due-soon":
            continue
        if view == "mine" and not _owned_by(doc, owner):
            continue
        if view == "recent" and not (changed and (day - changed.when.date()).days <= RECENT_DAYS):
            continue
        rows.append(Row(doc, review, changed, []))
    if sort == "clarity":
        for row in rows:
            row.findings = findings_for(row.doc)
    rows.sort(key=_SORTS.get(sort, _SORTS["due"]))
    shown = rows[:MAX_ROWS]
    for row in shown:  # clarity only for the rows shown: the dashboard stays fast on big repos
        if not row.findings:
            row.findings = findings_for(row.doc)
    return shown


def counts() -> dict[str, int]:
    day = today()
    states = [status_of(d, on=day).state for d in store().all()]
    return {"overdue": states.count("overdue"), "due": states.count("due-soon")}


def _owned_by(doc: Document, owner: str | None) -> bool:
    if not owner:
        return False
    mine = owner.lower()
    have = doc.owner.lower()
    return have == mine or have.split("@")[0] == mine.split("@")[0]


_FAR = dt.date.max
_SORTS = {
    "due": lambda r: (r.review.due or _FAR, r.doc.title.lower()),
    "title": lambda r: r.doc.title.lower(),
    "owner": lambda r: (r.doc.owner.lower(), r.doc.title.lower()),
    "changed": lambda r: -(r.changed.when.timestamp() if r.changed else 0),
    "clarity": lambda r: (-len(r.findings), r.doc.title.lower()),
}


def overdue_report(*, on: dt.date | None = None, within: int = 0) -> list[tuple[Document,
                                                                             ReviewStatus]]:
    """Documents overdue (or due within ``within`` days) for ``kb due``."""
    day = on or today()
    out = []
    for doc in store().all():
        status = status_of(doc, on=day)
        if status.overdue or (within and status.days is not None and status.days <= within):
            out.append((doc, status))
    return sorted(out, key=lambda item: item[1].due)



# -- writes (each one a commit, so reviews and synonym changes are in the history) ------------
def set_review_by(text: str, day: dt.date) -> str:
    """``text`` with its front matter's ``review_by`` set to ``day`` (added if missing)."""
    match = FRONT_MATTER_RE.match(text)
    line = f"review_by: {day.isoformat()}"
    if not match:
        return f"---\n{line}\n---\n{text}"
    front = match.group(1)
    if re.search(r"^review_by\s*:.*$", front, re.M):
        front = re.sub(r"^review_by\s*:.*$", line, front, count=1, flags=re.M)
    else:
        front = front.rstrip("\n") + ("\n" if front.strip() else "") + line
    return text[:match.start(1)] + front + text[match.end(1):]


def _rewrite(path: str, transform: Callable[[str], str], message: str, username: str) -> str:
    """Commit ``transform(current text)`` of ``path``; refused if the file moved meanwhile."""
    original = store().committed(path) or b""  # as committed: never a work-tree edit
    new_text = transform(original.decode("utf-8"))

    def unchanged(head: str) -> None:
        if (current_app.extensions["kb_repo"].read_file(head, path) or b"") != original:
            raise editing.EditError(f"{path} changed meanwhile; reload and try again.")

    change = editing.Change(message=message, author=username, material=False)
    return editing.commit_files({path: new_text.encode("utf-8")}, change, unchanged)


def mark_reviewed(doc: Document, *, username: str) -> dt.date:
    """"Reviewed — no change needed": push ``review_by`` one interval on, as a commit."""
    months = int(current_app.config["KB_REVIEW_INTERVAL_MONTHS"])
    day = add_months(today(), months)
    _rewrite(doc.path, lambda text: set_review_by(text, day),
             f"Reviewed {doc.title}: no change needed", username)
    return day


def add_synonym(term: str, synonym_of: str, *, username: str) -> None:
    """Add ``term`` to the synonym group of ``synonym_of`` in ``synonyms.yml``, as a commit."""
    synonyms.with_synonym("", term, synonym_of)  # validates before anything is locked
    _rewrite(synonyms.FILE, lambda text: synonyms.with_synonym(text, term, synonym_of),
             f"Search: treat “{term}” as “{synonym_of}”", username)
