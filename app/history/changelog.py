"""The public changelog: per document, site-wide ("What changed") and the Atom feed.

Built only from the public projection of each revision (``audience.project``): internal
blocks are removed before comparing, revisions in which a document was internal are skipped,
and a commit that changed only internal text leaves the projection unchanged, so it does
not appear.  Commit messages and authors are staff business; the public sees the optional
``Public-Note`` trailer only.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import cached_property

from app.caching.lru import SizedLRU
from app.clock import today
from app.content.audience import PUBLIC, project, visible
from app.content.store import parse, repo, store
from app.history.diffing import Diff, diff
from app.history.revisions import locate, revisions
from app.repo.gitrepo import LogEntry

SITE_SCAN = 400  # commits examined for "What changed"
PER_PAGE = 10  # public changes per page of a document's changelog
MAX_PAGES = 10  # pages of it the site links to ("Older" stops there); others are 404


@dataclass(frozen=True)
class PublicText:
    title: str
    summary: str
    effective: dt.date | None
    body: str


@dataclass(frozen=True)
class PublicChange:
    kind: str
    slug: str
    title: str
    when: dt.datetime
    note: str
    effective: dt.date | None
    new: PublicText
    old: PublicText | None
    sha: str

    @property
    def url(self) -> str:
        from app.content.store import KINDS

        return f"/{KINDS[self.kind]}/{self.slug}"

    @cached_property
    def diff(self) -> Diff:  # cached with the change itself, which is cached by HEAD
        return diff(self.old.body if self.old else "", self.new.body, mode="rendered")


_lock = threading.Lock()
_projected = SizedLRU(max_items=16384, max_bytes=64 << 20,
                      size_of=lambda t: (len(t.body) if t else 0) + 200)
_results: OrderedDict[tuple, list[PublicChange]] = OrderedDict()
_MISSING = object()
_by_commit = SizedLRU(max_items=8192, max_bytes=1 << 62, size_of=lambda v: 0)


def _public_texts(items: list[tuple[str, str, str]]) -> dict[tuple[str, str], PublicText | None]:
    """Public projection of blobs given as (blob, kind, slug); cached by blob."""
    out, missing = {}, []
    for blob, kind, slug in items:
        key = (blob, f"{kind}:{slug}")
        hit = _projected.get(key, _MISSING) if blob else None
        if hit is _MISSING:
            missing.append((blob, kind, slug))
        else:
            out[key] = hit
    if missing:
        data = repo().read_blobs([b for b, _, _ in missing])
        for blob, kind, slug in missing:
            raw = data.get(blob)
            shown = None
            if raw is not None:
                doc = project(parse(raw, kind=kind, slug=slug, path=f"{slug}.md"), viewer=PUBLIC)
                if doc is not None:
                    shown = PublicText(doc.title, doc.summary, doc.effective, doc.body)
            out[(blob, f"{kind}:{slug}")] = _projected.put((blob, f"{kind}:{slug}"), shown)
    return out


def _change(entry: LogEntry, kind: str, slug: str, texts) -> PublicChange | None:
    """A public change, or None when the public projection did not change."""
    new = texts.get((entry.blob, f"{kind}:{slug}"))
    old = texts.get((entry.old_blob, f"{kind}:{slug}"))
    if new is None or new == old:
        return None  # internal (or deleted) now, or nothing public changed
    return PublicChange(kind, slug, new.title, entry.when, entry.note, new.effective, new, old,
                        entry.sha)


def _applies(change: PublicChange) -> bool:
    """An upcoming version (``effective`` after today) is not public until its date: its
    text and title stay out of the changelog and the feed until then."""
    return change.effective is None or change.effective <= today()


def _public_now(kind: str, slug: str) -> bool:
    doc = store().get(kind, slug)
    return doc is not None and visible(doc, viewer=PUBLIC)


def _remember(key: tuple, value: list[PublicChange]) -> list[PublicChange]:
    with _lock:
        _results[key] = value
        while len(_results) > 32:  # entries hold public texts; keep few
            _results.popitem(last=False)
    return value


def document_changes(kind: str, slug: str, path: str, limit: int = PER_PAGE
                     ) -> list[PublicChange]:
    """The newest ``limit`` public changes of one document (walks only as far as needed)."""
    key = ("doc", repo().head(), path, limit, today())
    hit = _results.get(key)  # one lookup: another thread may evict between two
    if hit is not None:
        return hit
    found: list[PublicChange] = []
    revs = revisions(path)
    for start in range(0, len(revs), 100):
        chunk = [r.entry for r in revs[start:start + 100]]
        texts = _public_texts([(b, kind, slug) for e in chunk for b in (e.blob, e.old_blob)])
        for entry in chunk:
            change = _change(entry, kind, slug, texts)
            if change and _applies(change):
                found.append(change)
        if len(found) >= limit:
            break
    return _remember(key, found[:limit])


def site_changes(limit: int = 50) -> list[PublicChange]:
    """Public changes across all documents, newest first (from the last SITE_SCAN commits)."""
    key = ("site", repo().head(), limit, today())
    hit = _results.get(key)  # one lookup: another thread may evict between two
    if hit is not None:
        return hit
    commits = [c for c in repo().recent_changes(limit=SITE_SCAN) if c]
    todo = [c for c in commits if c[0].sha not in _by_commit]
    items = [(e, *where) for c in todo for e in c if (where := locate(e.path))]
    texts = _public_texts([(b, k, s) for e, k, s in items for b in (e.blob, e.old_blob)])
    for commit in todo:  # commits never change: their public changes are computed once
        light = []
        for entry in commit:
            where = locate(entry.path)
            change = _change(entry, *where, texts) if where else None
            if change:
                light.append(_without_bodies(change))
        _by_commit.put(commit[0].sha, light)
    # Only documents that are public today: a page made internal later leaves no trace here.
    found = [c for commit in commits for c in _by_commit.get(commit[0].sha, [])
             if _public_now(c.kind, c.slug) and _applies(c)]
    return _remember(key, found[:limit])


def _without_bodies(change: PublicChange) -> PublicChange:
    """What the site-wide list needs (title, dates, note), without the document texts."""
    def light(text: PublicText | None) -> PublicText | None:
        return PublicText(text.title, text.summary, text.effective, "") if text else None

    return replace(change, new=light(change.new), old=light(change.old))
