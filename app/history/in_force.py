"""The one rule for "which version of a document is in force for customers on date D".

A version applies on D when it has no ``effective`` date or one on or before D
(``applies``).  The version in force is the newest committed revision that applies, and
none when the document was deleted after it (``first_in_force`` walks revisions newest
first).  Pages, ``?as_of=``, the changelog, the feed, list pages and the public search index
all decide with these two functions.

For one document page ``history.revisions.in_force`` walks that document's own
``git log --follow``; a full index build or a list page may meet hundreds of upcoming
documents, so ``in_force`` here takes one ``git log`` of the whole repository (renames
detected) for all of them and reads their blobs in a few ``cat-file`` batches.  Both give the
same answer (tests compare them).

The result also says when the public index next needs a look without any commit: the
earliest date on which a version that is not yet in force becomes so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from app.content.store import Document, parse
from app.repo.gitlog import raw_changes
from app.repo.gitrepo import GitError, GitRepo

ROUND = 8  # revisions read per upcoming document per cat-file batch


@dataclass
class InForce:
    """Public versions of upcoming documents and the next date anything changes."""

    versions: dict[str, Document | None] = field(default_factory=dict)  # path -> in force
    due: dt.date | None = None  # earliest future date on which a version takes effect

    def public_version(self, doc: Document) -> Document | None:
        """The version of ``doc`` the public index holds (``doc`` itself when in force)."""
        return self.versions.get(doc.path, doc)


def earliest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    """The earlier of two optional dates (None: no date)."""
    return b if a is None else a if b is None else min(a, b)


def applies(effective: dt.date | None, on: dt.date) -> bool:
    """True when a version with this ``effective`` date is in force on ``on`` (no date: it
    applies from its commit)."""
    return effective is None or effective <= on


class Walk(NamedTuple):
    """Where a newest-first walk through a document's revisions stopped."""

    decided: bool  # False: every version given is upcoming; older revisions may apply
    index: int | None  # the position of the version in force among those given
    doc: Document | None  # that version (None: nothing applies, or deleted before)
    due: dt.date | None  # the earliest upcoming date met on the way


def first_in_force(versions: Iterable[tuple[bool, Document | None]], on: dt.date) -> Walk:
    """Walk ``(deleted, version)`` pairs newest first: the first version that applies on
    ``on``; a deletion met first means nothing applies (older text is not brought back).
    A version that could not be read (None) is passed over."""
    due = None
    for index, (deleted, doc) in enumerate(versions):
        if deleted:
            return Walk(True, None, None, due)
        if doc is None:
            continue
        if applies(doc.effective, on):
            return Walk(True, index, doc, due)
        due = earliest(due, doc.effective)
    return Walk(False, None, None, due)


Chains = dict[str, list[tuple[str, str]]]  # path -> (status, blob) of its commits, newest first


def in_force(repo: GitRepo, docs: Iterable[Document], on: dt.date,
             chains: Chains | None = None) -> InForce:
    """The versions in force on ``on`` of ``docs`` whose current text is not yet in force.

    ``chains`` (from ``revisions``) saves the ``git log`` when asking about several dates.
    """
    upcoming = {d.path: d for d in docs if not applies(d.effective, on)}
    out = InForce()
    if not upcoming:
        return out
    if chains is None:
        chains = revisions(repo, upcoming.values())
    pending = dict.fromkeys(upcoming, 0)  # index of the next revision to look at
    for doc in upcoming.values():
        out.due = earliest(out.due, doc.effective)
    while pending:
        wanted = {path: chains.get(path, [])[start:start + ROUND]
                  for path, start in pending.items()}
        blobs = repo.read_blobs([b for revs in wanted.values() for _s, b in revs if b])
        for path, revs in wanted.items():
            doc = upcoming[path]
            walk = first_in_force(((status == "D" or not blob, _parse(blobs.get(blob), doc))
                                   for status, blob in revs), on)
            out.due = earliest(out.due, walk.due)
            if walk.decided or len(revs) < ROUND:
                out.versions[path] = walk.doc
                del pending[path]
            else:
                pending[path] += ROUND
    return out


def _parse(raw: bytes | None, like: Document) -> Document | None:
    return parse(raw, kind=like.kind, slug=like.slug, path=like.path) if raw else None


def revisions(repo: GitRepo, docs: Iterable[Document]) -> Chains:
    """(status, blob) of every commit touching each document, newest first, following
    renames back (as ``git log --follow`` does for one file)."""
    paths = {d.path for d in docs}
    if not paths:
        return {}
    try:
        out = repo.git("log", "-M", "--raw", "-z", "--no-abbrev", "--first-parent",
                       "--diff-merges=first-parent", "--format=%x1e", "HEAD", "--")
    except GitError:  # no commit yet
        return {}
    tracking = {p: p for p in paths}  # name at this point of history -> current path
    chains: dict[str, list[tuple[str, str]]] = {p: [] for p in paths}
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        for status, _old_blob, new_blob, old_path, path in raw_changes(record):
            origin = tracking.get(path)
            if origin is None:
                continue
            chains[origin].append((status, new_blob))
            if status in "AD":
                del tracking[path]  # nothing older belongs to this document
            elif status == "R":
                del tracking[path]
                tracking[old_path] = origin
        if not tracking:
            break
    return chains
