"""The public changelog: per document, site-wide ("What changed") and the Atom feed.

Built only from the public projection of each revision (``audience.project``): internal
blocks are removed before comparing, revisions in which a document was internal are skipped,
and a commit that changed only internal text leaves the projection unchanged, so it does
not appear.  Commit messages and authors are staff business; the public sees the optional
``Public-Note`` trailer only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import cached_property

from app.caching.lru import SizedLRU
from app.clock import today
from app.content.audience import PUBLIC, as_read, project, visible
from app.content.store import KINDS, parse, repo, store
from app.history import shared_printed
from app.history.diffing import Diff, diff
from app.history.in_force import applies
from app.history.revisions import locate, revisions
from app.repo.gitrepo import Change, LogEntry

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
        return f"/{KINDS[self.kind]}/{self.slug}"

    @cached_property
    def diff(self) -> Diff:  # cached with the change itself, which is cached by HEAD
        return diff(self.old.body if self.old else "", self.new.body, mode="rendered")


def _text_size(text: PublicText | None) -> int:
    return 200 + (len(text.body) + len(text.title) + len(text.summary or "") if text else 0)


def _changes_size(changes: list[PublicChange]) -> int:
    """A change holds its two public texts and, once shown, their diff (about twice again)."""
    return 100 + sum(300 + 3 * (_text_size(c.new) + _text_size(c.old)) for c in changes)


# Public projections by (blob, document); public changes by (what, HEAD, ..., today);
# bodiless changes by commit (commits never change).
_projected = SizedLRU(max_bytes=64 << 20, size_of=_text_size)
_results = SizedLRU(max_bytes=32 << 20, size_of=_changes_size)
_MISSING = object()
_by_commit = SizedLRU(max_bytes=8 << 20, size_of=_changes_size)


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
    if new is None or (old is not None and _same(new, old)):
        return None  # internal (or deleted) now, or nothing public changed
    return PublicChange(kind, slug, new.title, entry.when, entry.note, new.effective, new, old,
                        entry.sha)


def _same(new: PublicText, old: PublicText) -> bool:
    """Equal for a reader: an internal block added or removed leaves only a blank line in
    the projection, and blank lines and trailing spaces do not change what Markdown shows."""
    return (new.title, new.summary, new.effective) == (old.title, old.summary, old.effective) \
        and as_read(new.body) == as_read(old.body)


def _applies(change: PublicChange) -> bool:
    """An upcoming version (``effective`` after today) is not public until its date: its
    text and title stay out of the changelog and the feed until then."""
    return applies(change.effective, today())


def _public_now(kind: str, slug: str) -> bool:
    doc = store().get(kind, slug)
    return doc is not None and visible(doc, viewer=PUBLIC)


def _remember(key: tuple, value: list[PublicChange]) -> list[PublicChange]:
    return _results.put(key, value)


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


# The public revision a page prints, by (path, document) -> (HEAD, change); carried over moves.
_printed = SizedLRU(max_bytes=4 << 20, size_of=lambda v: 200)
_UNKNOWN = object()


def public_revision(kind: str, slug: str, path: str, upto: str = "") -> Change | None:
    """The last commit, at or before revision ``upto`` (default: the newest), that changed
    what customers read of the document: the one a public page may name.  A commit that
    changed only internal text (or only staff fields) is passed over, so its id and date
    never reach a customer.

    For the newest version the answer is kept per document and carried over head moves
    (``headmoves``): a commit elsewhere keeps it, and the commits of a move that touched
    the file are judged from their blobs, so a page view after another worker's save runs
    no ``git log``.
    """
    if upto:
        return _walked(kind, slug, path, upto)
    head = repo().head()
    key = (path, f"{kind}:{slug}")
    cached = _printed.get(key)
    if cached is None:  # another worker may have walked it (or an older head of it)
        cached = shared_printed.read(kind, slug, path)
    if cached is not None and cached[0] != head:
        found = _carried(kind, slug, path, cached, head)
        cached = None if found is _UNKNOWN else (head, found)
    if cached is None:
        cached = (head, _walked(kind, slug, path, ""))
        shared_printed.write(kind, slug, path, cached)
    _printed.put(key, cached)
    return cached[1]


def _carried(kind: str, slug: str, path: str, cached: tuple[str, Change | None], head: str):
    """The answer at ``head`` from the one at an older head, or ``_UNKNOWN``."""
    git = repo()
    move = git.moves.between(cached[0], head)
    if move is None:
        return _UNKNOWN
    if not move.touches(path):
        return cached[1]
    touching = [c for c in move.commits if path in c.paths]  # newest first
    if not touching:
        return _UNKNOWN  # e.g. a merge's own resolution
    blobs = git.blobs_at([(c.sha, path) for c in touching] + [(move.old, path)])
    texts = _public_texts([(b, kind, slug) for b in blobs if b])
    shown = [texts.get((b, f"{kind}:{slug}")) if b else None for b in blobs]
    for i, commit in enumerate(touching):
        new, old = shown[i], shown[i + 1]
        if new is not None and (old is None or not _same(new, old)):
            return Change(commit.sha, commit.when)
    return cached[1]  # nothing customers read changed in the move


def _walked(kind: str, slug: str, path: str, upto: str) -> Change | None:
    revs = revisions(path)
    start = next((i for i, r in enumerate(revs) if r.sha == upto), 0) if upto else 0
    for at in range(start, len(revs), 100):
        chunk = [r.entry for r in revs[at:at + 100]]
        texts = _public_texts([(b, kind, slug) for e in chunk for b in (e.blob, e.old_blob)])
        found = next((c for e in chunk if (c := _change(e, kind, slug, texts))), None)
        if found is not None:
            return Change(found.sha, found.when)
    return None


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
