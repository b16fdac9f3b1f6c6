"""Lists of documents for navigation: what a viewer may see, grouped for the home page."""

from __future__ import annotations

from collections import defaultdict

from .audience import Viewer, visible
from .content import Document, store

UNTAGGED = "general"


def visible_documents(viewer: Viewer, *, kind: str | None = None) -> list[Document]:
    """Documents whose existence this viewer may know, in catalogue order."""
    return [d for d in store().all()
            if visible(d, viewer=viewer) and (kind is None or d.kind == kind)]


def group_by_tag(docs: list[Document]) -> list[tuple[str, list[Document]]]:
    """(tag, documents) pairs, tags alphabetical; each document under its first tag."""
    groups: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        groups[doc.tags[0] if doc.tags else UNTAGGED].append(doc)
    return sorted(groups.items())
