"""History (read side): revisions of a document, old versions, and effective-date resolution.

Everything is derived from git through ``gitrepo``; caches are keyed on HEAD, so a commit made
outside the portal (a ``git pull``, an owner committing by hand) shows on the next request.
What a viewer may see of a revision is decided by ``audience`` like any other output.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.caching.lru import SizedLRU
from app.clock import today
from app.content.audience import STAFF, project
from app.content.store import Document, parse, repo, store
from app.history.in_force import applies, first_in_force
from app.repo.gitrepo import LogEntry, is_valid_rev

PER_PAGE = 50


@dataclass(frozen=True)
class Revision:
    entry: LogEntry
    number: int  # 1 = the oldest revision of the document
    size: int  # bytes after this commit (0 when deleted)
    delta: int  # size change in bytes

    @property
    def sha(self) -> str:
        return self.entry.sha

    @property
    def deleted(self) -> bool:
        return self.entry.status == "D"


@dataclass(frozen=True)
class Page:
    revisions: list[Revision]
    page: int
    pages: int
    total: int


def doc_path(kind: str, slug: str) -> str | None:
    """Repository path of (kind, slug), whether or not the file exists now."""
    return store().rel_for(kind, slug)


def locate(path: str) -> tuple[str, str] | None:
    """(kind, slug) for a repository path, or None when it is not a servable document."""
    return store().locate(path)


# Revision lists by (repository, path) -> (HEAD, revisions): a few hundred bytes a revision.
_revision_lists = SizedLRU(max_bytes=16 << 20, size_of=lambda v: 64 + 160 * len(v[1]))
# Versions in force by (repository, path, date, effective) -> (HEAD, (revision, document)).
_in_force = SizedLRU(max_bytes=16 << 20)


def revisions(path: str) -> list[Revision]:
    """Every revision of ``path`` (renames followed), newest first.  Cached by HEAD.

    When HEAD moved forward only the new commits are walked, so a save on a 10,000-commit
    repository does not cost a full history walk on the next page view.
    """
    git = repo()
    head = git.head()
    key = (str(git.root), path)
    cached = _revision_lists.get(key)
    if cached and cached[0] == head:
        return cached[1]
    entries: list[LogEntry] | None = None
    old: list[Revision] = []
    move = git.moves.between(cached[0], head) if cached else None
    if move is not None and not move.touches(path):
        revs = cached[1]  # commits elsewhere: the list stands as it is
    else:
        if move is not None:
            new = git.log_file(path, since=cached[0])
            if not any(e.status in "RC" for e in new):  # a rename means a different lineage
                entries, old = new, cached[1]
        if entries is None:
            entries, old = git.log_file(path), []
        revs = _with_sizes(entries, old)
    _revision_lists.put(key, (head, revs))
    return revs


def _with_sizes(entries: list[LogEntry], older: list[Revision]) -> list[Revision]:
    sizes = repo().blob_sizes([b for e in entries for b in (e.blob, e.old_blob)])
    base = len(older)
    fresh = [
        Revision(e, base + len(entries) - i, sizes.get(e.blob, 0),
                 sizes.get(e.blob, 0) - sizes.get(e.old_blob, 0))
        for i, e in enumerate(entries)
    ]
    return fresh + older


def page_of(revs: list[Revision], page: int, per_page: int = PER_PAGE) -> Page:
    pages = max(1, -(-len(revs) // per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return Page(revs[start:start + per_page], page, pages, len(revs))


def find(revs: list[Revision], rev: str) -> Revision | None:
    """The revision whose id is ``rev`` (full or abbreviated); None when invalid or unknown."""
    if not is_valid_rev(rev):
        return None
    return next((r for r in revs if r.sha.startswith(rev)), None)


_parsed = SizedLRU(max_bytes=64 << 20, size_of=lambda d: len(d.body) + 500)


def document_at(rev: Revision, kind: str, slug: str) -> Document | None:
    """The document as stored in ``rev`` (None when the revision deleted it)."""
    if rev.deleted or not rev.entry.blob:
        return None
    return _documents([rev], kind, slug).get(rev.entry.blob)


def _documents(revs: list[Revision], kind: str, slug: str) -> dict[str, Document]:
    """Parse the blobs of ``revs`` (one ``cat-file`` for all that are not cached)."""
    out: dict[str, Document] = {}
    missing = []
    for rev in revs:
        doc = _parsed.get((rev.entry.blob, f"{kind}:{slug}"))
        if doc is not None:
            out[rev.entry.blob] = doc
        elif rev.entry.blob:
            missing.append(rev)
    if missing:
        data = repo().read_blobs([r.entry.blob for r in missing])
        for rev in missing:
            raw = data.get(rev.entry.blob)
            if raw is not None:
                doc = parse(raw, kind=kind, slug=slug, path=rev.entry.path)
                out[rev.entry.blob] = _parsed.put((rev.entry.blob, f"{kind}:{slug}"), doc)
    return out


def _newest_effective(revs: list[Revision], kind: str, slug: str, on: dt.date,
                      ) -> tuple[Revision, Document] | None:
    """The newest of ``revs`` in force on ``on`` (``first_in_force``), read 64 at a time."""
    for start in range(0, len(revs), 64):
        chunk = revs[start:start + 64]
        docs = _documents(chunk, kind, slug)
        walk = first_in_force(((rev.deleted, docs.get(rev.entry.blob)) for rev in chunk), on)
        if walk.decided:
            return (chunk[walk.index], walk.doc) if walk.doc is not None else None
    return None


def in_force(doc: Document, on: dt.date | None = None) -> tuple[Revision | None, Document | None]:
    """The version of ``doc`` in force on ``on`` (default today) given the current HEAD.

    Cheap in the common case: when the current version is already in force no git process
    runs.  Otherwise the answer is cached by (HEAD, path, date).
    """
    on = on or today()
    if applies(doc.effective, on):
        return None, doc
    git = repo()
    head = git.head()
    key = ("in_force", str(git.root), doc.path, on, doc.effective)
    cached = _in_force.get(key)
    if cached is not None and cached[0] != head:
        move = git.moves.between(cached[0], head)
        if move is not None and not move.touches(doc.path):
            cached = (head, cached[1])  # commits elsewhere do not change this answer
            _in_force.put(key, cached)
    if cached is None or cached[0] != head:
        revs = revisions(doc.path)
        cached = (head, _newest_effective(revs, doc.kind, doc.slug, on) or (None, None))
        _in_force.put(key, cached)
    return cached[1]


def as_of(kind: str, slug: str, on: dt.date) -> tuple[Revision, Document] | None:
    """The version that was in force on ``on``: committed by then and effective by then."""
    path = doc_path(kind, slug)
    if path is None:
        return None
    end = dt.datetime.combine(on, dt.time.max, tzinfo=dt.UTC)
    committed = [r for r in revisions(path) if r.entry.when <= end]
    return _newest_effective(committed, kind, slug, on)


def parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


@dataclass
class PageVersion:
    """Which version of a document a page shows, and how to label it."""

    doc: Document
    revision: Revision | None = None  # an old revision asked for with ?rev= or ?as_of=
    total: int = 0
    as_of: dt.date | None = None
    upcoming: bool = False  # staff: the current text takes effect later
    in_force: Revision | None = None  # ... and this revision applies until then


    @property
    def source(self) -> Revision | None:
        """The revision whose text is shown, when it is not simply the current file."""
        return self.revision or (None if self.upcoming else self.in_force)


class VersionError(Exception):
    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def page_version(doc: Document, *, sees_internal: bool, rev: str = "", as_of_arg: str = ""
                 ) -> PageVersion:
    """Resolve ``?rev=`` / ``?as_of=`` and effective dates for a document page.

    Raises VersionError(400/404).  The caller projects the returned document for its viewer.
    """
    if not sees_internal and (rev or as_of_arg):
        now = in_force(doc)[1]  # old versions only of a page the public may see today
        if now is None or not now.is_public:
            raise VersionError(404)
    if as_of_arg:
        on = parse_date(as_of_arg)
        if on is None:
            raise VersionError(400)
        if not sees_internal:
            on = min(on, today())  # the public never reads a version before it applies
        found = as_of(doc.kind, doc.slug, on)
        if found is None:
            raise VersionError(404)
        return PageVersion(found[1], found[0], len(revisions(doc.path)), as_of=on)
    if rev:
        revs = revisions(doc.path)
        target = find(revs, rev)
        old = document_at(target, doc.kind, doc.slug) if target else None
        if old is None or (not sees_internal and not applies(old.effective, today())):
            raise VersionError(404)  # an upcoming version is not public before its date
        return PageVersion(old, target, len(revs))
    if applies(doc.effective, today()):
        return PageVersion(doc)
    in_force_rev, current = in_force(doc)
    if sees_internal:
        return PageVersion(doc, upcoming=True, in_force=in_force_rev)
    if current is None:
        raise VersionError(404)  # nothing of this document applies yet
    return PageVersion(current, in_force=in_force_rev)


def source_at(rev: Revision | None, kind: str, slug: str, mode: str) -> str:
    """Staff text of a revision for diffs: the whole file, or the body ready to render."""
    doc = document_at(rev, kind, slug) if rev else None
    if doc is None:
        return ""
    if mode == "source":
        data = repo().read_blobs([rev.entry.blob]).get(rev.entry.blob, b"")
        return data.decode("utf-8", "replace")
    shown = project(doc, viewer=STAFF)
    return f"# {shown.title}\n\n{shown.body}" if shown else ""
