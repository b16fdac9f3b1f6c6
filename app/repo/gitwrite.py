"""Git objects written in-process (pygit2/libgit2): a save's blobs, trees and commit without
starting a process for each.  Part of the git layer: only ``gitrepo`` uses this module.

A libgit2 repository handle must not be shared between threads, so each thread (and each
forked worker) opens its own.  ``handle()`` gives None whenever the repository is one this
writer should not touch -- a SHA-256 repository (libgit2 cannot open it), a reftable or split
index, signed commits, a shared repository, durability settings (``core.fsync``) this writer
would not honour, a folder inside a larger repository -- and ``gitrepo`` then does the same
work with the git CLI.

What is written is what the CLI would write, byte for byte: the same trees (entries mode
100644, a directory emptied by a removal disappears) and the same commit headers (git's
clean-up of author names applied here too), so a commit's id does not depend on the path.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

try:
    import pygit2
except ImportError:  # pragma: no cover - the dependency is declared; the CLI still works
    pygit2 = None

ENABLED = True  # tests switch this off to drive the CLI path

# Settings that change what or how git writes in ways libgit2 would not reproduce.
_UNSUPPORTED = ("extensions.objectformat", "extensions.refstorage", "core.splitindex",
                "core.sharedrepository", "commit.gpgsign", "i18n.commitencoding",
                "core.fsync", "core.fsyncobjectfiles", "core.fsyncmethod")
_LOCK_WAIT = 0.1  # seconds; git's own default wait for a held ref lock (core.filesRefLockTimeout)
_CRUD = frozenset(b" .,:;<>\"\\'") | frozenset(range(33))  # git's ident.c ``crud()``


class Writer:
    """One pygit2 handle per thread and process for the repository at ``root``."""

    def __init__(self, root: Path):
        self.root = root
        self._local = threading.local()
        self._usable: bool | None = None  # decided once per process

    def handle(self) -> pygit2.Repository | None:
        """This thread's repository handle; None when the CLI should be used instead."""
        if not ENABLED or pygit2 is None or self._usable is False:
            return None
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a fork must not reuse the parent's
            local.repo, local.pid = self._open(), os.getpid()
        return local.repo

    def _open(self) -> pygit2.Repository | None:
        try:
            repo = pygit2.Repository(str(self.root))
            config = repo.config
            usable = (not repo.is_bare and not any(name in config for name in _UNSUPPORTED)
                      # the work tree itself, not a folder inside a larger repository
                      and Path(repo.workdir).resolve() == self.root.resolve())
        except (pygit2.GitError, OSError, ValueError, KeyError):
            usable = False  # e.g. "unknown object format 'sha256'"
        if self._usable is None or not usable:
            self._usable = usable
        return repo if usable else None


def make_commit(repo: pygit2.Repository, parent: str, changes: Mapping[str, str | None],
                message: str, *, author: tuple[str, str], when: dt.datetime | None,
                extra_parents: tuple[str, ...] = ()) -> str:
    """A commit on ``parent`` with ``changes`` (path -> blob id, None = remove); no ref moves.
    ``extra_parents`` make it a merge (its tree is still ``parent``'s with ``changes``).

    Trees are rebuilt only along the changed paths (nested tree builders), so the cost does
    not grow with the number of documents.
    """
    base = repo[parent].peel(pygit2.Commit)
    nested: dict[tuple[str, ...], str | None] = {
        tuple(path.split("/")): blob for path, blob in changes.items()}
    tree = _tree(repo, base.tree, nested)
    if tree is None:  # every file removed: the empty tree
        tree = repo.TreeBuilder().write()
    when = when or dt.datetime.now().astimezone().replace(microsecond=0)
    offset = when.utcoffset() or dt.timedelta()
    name, email = (_without_crud(part) for part in author)
    if not name:
        raise ValueError("empty ident name")  # git refuses it too
    sign = pygit2.Signature(name, email, int(when.timestamp()),
                            int(offset.total_seconds()) // 60)
    parents = [base.id, *(pygit2.Oid(hex=p) for p in extra_parents)]
    oid = repo.create_commit(None, sign, sign, message.encode(), tree, parents)
    return str(oid)


def _tree(repo: pygit2.Repository, tree: pygit2.Tree | None,
          changes: dict[tuple[str, ...], str | None]) -> pygit2.Oid | None:
    """``tree`` with ``changes`` (path parts -> blob) applied; None when it ends up empty."""
    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    below: dict[str, dict[tuple[str, ...], str | None]] = {}
    for parts, blob in changes.items():
        if len(parts) > 1:
            below.setdefault(parts[0], {})[parts[1:]] = blob
        elif blob is None:
            if builder.get(parts[0]) is not None:
                builder.remove(parts[0])
        else:
            builder.insert(parts[0], pygit2.Oid(hex=blob), pygit2.enums.FileMode.BLOB)
    for name, sub in below.items():
        entry = builder.get(name)
        subtree = entry if isinstance(entry, pygit2.Tree) else None
        new = _tree(repo, subtree, sub)
        if new is not None:
            builder.insert(name, new, pygit2.enums.FileMode.TREE)
        elif subtree is not None:  # emptied: git drops an empty directory
            builder.remove(name)
    return builder.write() if len(builder) else None


def blobs_at(repo: pygit2.Repository, wanted: list[tuple[str, str]]) -> list[str]:
    """Blob ids of (rev, path) pairs ('' when absent or not a blob); inputs already checked."""
    trees: dict[str, pygit2.Tree | None] = {}
    found = []
    for rev, path in wanted:
        if rev not in trees:
            try:
                trees[rev] = repo[rev].peel(pygit2.Tree)
            except (KeyError, ValueError, pygit2.GitError):
                trees[rev] = None  # unknown, ambiguous, or not a tree-ish
        tree = trees[rev]
        while path.startswith("./"):  # as git reads "rev:./path" from the top (our cwd)
            path = path[2:]
        try:
            entry = tree[path] if tree is not None and path else None
        except (KeyError, ValueError, pygit2.GitError):
            entry = None
        found.append(str(entry.id) if isinstance(entry, pygit2.Blob) else "")
    return found


def _without_crud(text: str) -> str:
    """git's ``strbuf_addstr_without_crud``: trim crud at both ends, drop '<', '>', '\\n'."""
    data = text.encode()
    start, end = 0, len(data)
    while start < end and data[start] in _CRUD:
        start += 1
    while end > start and data[end - 1] in _CRUD:
        end -= 1
    kept = bytes(c for c in data[start:end] if c not in b"<>\n")
    return kept.decode("utf-8", "surrogateescape")


def sync_index(repo: pygit2.Repository, paths: list[str]) -> bool:
    """Make the index agree with HEAD for ``paths``, as ``git reset -q HEAD -- paths`` does,
    with fresh stat data from the work tree so ``git status`` need not re-read the files.

    False (nothing written) when the work tree does not hold HEAD's exact blob for a path
    (a filter, an outside edit): the caller then leaves it to ``git reset``.
    """
    try:
        head = repo.head.peel(pygit2.Tree)
        index = repo.index
        index.read(True)
        for path in paths:
            try:
                want = head[path]
            except KeyError:
                want = None
            if not isinstance(want, pygit2.Blob):
                if path in index:
                    index.remove(path)
                continue
            index.add(path)  # hashes the work-tree file and takes its stat data
            if index[path].id != want.id or index[path].mode != pygit2.enums.FileMode.BLOB:
                return False
        index.write()
    except (pygit2.GitError, OSError, KeyError, ValueError):
        return False
    return True


def between_read_and_write() -> None:
    """Called by ``move_branch`` once it has read the branch and before it writes it: a no-op
    outside tests, which land an outside commit here to prove the compare-and-swap."""


def move_branch(repo: pygit2.Repository, name: str, new: str, old: str, message: str) -> bool:
    """Move branch ``name`` to ``new`` only if it is still at ``old``; False when it is not
    (or cannot be written).  ``old`` empty: create the branch, False when it exists.
    Logged in the branch's and HEAD's reflogs like ``update-ref``.

    ``Reference.set_target`` is libgit2's compare-and-swap: it takes ``<ref>.lock`` (the lock
    git itself takes) and, holding it, re-reads the branch and fails ("old reference value
    does not match") unless it still has the value this ``Reference`` was read with -- the
    check ``git update-ref NEW OLD`` makes.  A lock held by another git process is waited
    for as briefly as git waits; an existing lock file is never removed.
    """
    try:
        if not old:
            if repo.references.get(name) is not None:
                return False
            repo.create_reference_direct(name, pygit2.Oid(hex=new), False, message=message)
            return True
        ref = repo.references.get(name)
        if ref is None or not isinstance(ref.target, pygit2.Oid) or str(ref.target) != old:
            return False
        between_read_and_write()
        target = pygit2.Oid(hex=new)
        deadline = time.monotonic() + _LOCK_WAIT
        while True:
            try:
                ref.set_target(target, message)
                return True
            except OSError:  # "failed to lock file": someone else is writing the branch
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)
    except (pygit2.GitError, pygit2.AlreadyExistsError, KeyError, ValueError):
        return False
