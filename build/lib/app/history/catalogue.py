"""Lists of documents for navigation: what a viewer may see, grouped for the home page."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass

from flask import current_app

from app.clock import today
from app.content.audience import Viewer, visible
from app.content.store import Document, store
from app.history.in_force import InForce, applies, in_force

UNTAGGED = "general"


def visible_documents(viewer: Viewer, *, kind: str | None = None) -> list[Document]:
    """Documents whose existence this viewer may know, in catalogue order.

    Customers get the version in force today (``history.in_force``): an upcoming page or
    title does not show before its effective date.
    """
    docs = store().all()
    if not viewer.sees_internal:
        versions = _public_versions(docs)
        docs = [versions.public_version(d) for d in docs]
    return [d for d in docs if d is not None and visible(d, viewer=viewer)
            and (kind is None or d.kind == kind)]


class _PublicVersions:
    """Per app: path -> (current document, its version in force today) for upcoming ones."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.day: dt.date | None = None
        self.head: str | None = None
        self.entries: dict[str, tuple[Document, Document | None]] = {}


def _public_versions(docs: list[Document]) -> InForce:
    """Versions in force today of documents whose current text is upcoming.

    One ``git log`` for all of them (``search_dates``) the first time; then an entry is
    worked out again only when its document was re-read or a commit touched its file
    (``headmoves``): a save elsewhere costs list pages nothing.  A new day starts afresh.
    """

    repo = current_app.extensions["kb_repo"]
    state = current_app.extensions.setdefault("kb_public_versions", _PublicVersions())
    day, head = today(), repo.head()
    upcoming = [d for d in docs if not applies(d.effective, day)]
    with state.lock:
        if state.day != day:
            state.entries.clear()
        elif state.head != head:
            move = repo.moves.between(state.head, head)
            for path in list(state.entries) if move is None else move.paths:
                state.entries.pop(path, None)
        state.day, state.head = day, head
        missing = [d for d in upcoming if state.entries.get(d.path, (None,))[0] is not d]
        if missing:
            found = in_force(repo, missing, day)
            for doc in missing:
                state.entries[doc.path] = (doc, found.versions.get(doc.path))
        # ``due`` is not needed by lists; only the search index schedules on it.
        return InForce({d.path: state.entries[d.path][1] for d in upcoming})


def group_by_tag(docs: list[Document]) -> list[tuple[str, list[Document]]]:
    """(tag, documents) pairs, tags alphabetical; each document under its first tag."""
    groups: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        groups[doc.tags[0] if doc.tags else UNTAGGED].append(doc)
    return sorted(groups.items())


def tag_counts(docs: list[Document], *, limit: int = 40) -> list[tuple[str, int]]:
    """The most used tags (first tag of each document), most used first."""
    counts: dict[str, int] = defaultdict(int)
    for doc in docs:
        for tag in doc.tags:
            counts[tag] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


@dataclass(frozen=True)
class Page:
    items: list[Document]
    number: int
    pages: int
    total: int


def paginate(docs: list[Document], page: int, *, per_page: int = 100) -> Page:
    pages = max(1, -(-len(docs) // per_page))
    number = min(max(page, 1), pages)
    start = (number - 1) * per_page
    return Page(docs[start:start + per_page], number, pages, len(docs))
