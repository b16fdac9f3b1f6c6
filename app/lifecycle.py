"""Policy lifecycle for owners: review state per document and the owners' dashboard rows.

Review state is staff business: ``review_notice`` returns nothing for anyone who does not
see internal content, so templates can call it without deciding audience themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import current_app

from . import clarity
from .audience import project_body
from .auth import current_viewer
from .content import Document, store
from .gitrepo import Change
from .review import ReviewStatus, review_status

RECENT_DAYS = 30
MAX_ROWS = 200


def today() -> dt.date:
    """Overridable in tests through the ``KB_TODAY`` config value."""
    fixed = current_app.config.get("KB_TODAY")
    return dt.date.fromisoformat(str(fixed)) if fixed else dt.date.today()


def status_of(doc: Document, *, on: dt.date | None = None) -> ReviewStatus:
    repo = current_app.extensions["kb_repo"]
    material = repo.changes.last_material(doc.path) or repo.changes.last(doc.path)
    return review_status(doc.review_by, material.when.date() if material else None,
                         today=on or today(),
                         interval_months=int(current_app.config["KB_REVIEW_INTERVAL_MONTHS"]))


def review_notice(doc: Document) -> ReviewStatus | None:
    """The overdue banner for agents; None for customers (and when nothing is overdue)."""
    if not current_viewer().sees_internal:
        return None
    original = store().get(doc.kind, doc.slug)  # projections may drop review fields
    status = status_of(original or doc)
    return status if status.overdue else None


@dataclass
class Row:
    doc: Document
    review: ReviewStatus
    changed: Change | None
    findings: list[clarity.Finding]


_jargon_cache: dict[str, tuple[float, list[dict]]] = {}


def jargon_list() -> list[dict]:
    """``content/jargon.yml``: a list of ``{term, hint}``; a broken file means no jargon."""
    path = Path(store().root) / "jargon.yml"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return []
    cached = _jargon_cache.get(str(path))
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        current_app.logger.warning("jargon.yml cannot be read; clarity checks skip jargon")
        data = []
    entries = [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
    _jargon_cache[str(path)] = (mtime, entries)
    return entries


def findings_for(doc: Document) -> list[clarity.Finding]:
    public_text = project_body(doc.body, sees_internal=False) if doc.is_public else None
    return clarity.check(doc.body, public_text=public_text, jargon=jargon_list())


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

