"""Effective dates for the public search index: which version of each document is in force.

Customers read the version in force today (``history.in_force``): when the current text of
a document has an ``effective`` date in the future, the public index must hold the newest
committed revision that is already in force (or nothing, when none is).  ``history.in_force``
walks ``git log --follow`` once per document, which costs most of a second on a repository of
10,000 commits; a full build may meet hundreds of upcoming documents, so here one ``git log``
of the whole repository (renames detected) gives every upcoming document its revisions, and
their blobs are read in a few ``cat-file`` batches.  The answer is the same as
``history.in_force`` (tests compare them).

The result also says when the public index next needs a look without any commit: the
earliest date on which a version that is not yet in force becomes so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.content.store import Document, parse
from app.repo.gitrepo import GitError, GitRepo, _raw_changes

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


Chains = dict[str, list[tuple[str, str]]]  # path -> (status, blob) of its commits, newest first


def in_force(repo: GitRepo, docs: Iterable[Document], on: dt.date,
             chains: Chains | None = None) -> InForce:
    """The versions in force on ``on`` of ``docs`` whose current text is not yet in force.

    ``chains`` (from ``revisions``) saves the ``git log`` when asking about several dates.
    """
    upcoming = {d.path: d for d in docs if d.effective is not None and d.effective > on}
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
            found, done = None, not revs
            for status, blob in revs:
                if status == "D" or not blob:
                    done = True  # before a deletion nothing newer applies
                    break
                raw = blobs.get(blob)
                old = parse(raw, kind=doc.kind, slug=doc.slug, path=doc.path) if raw else None
                if old is not None and (old.effective is None or old.effective <= on):
                    found, done = old, True
                    break
                if old is not None:
                    out.due = earliest(out.due, old.effective)
            if done or len(revs) < ROUND:
                out.versions[path] = found
                del pending[path]
            else:
                pending[path] += ROUND
    return out


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
        for status, _old_blob, new_blob, old_path, path in _raw_changes(record):
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
