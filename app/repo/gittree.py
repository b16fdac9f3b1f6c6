"""The committed tree: which files a commit holds (path, mode, blob) and their bytes.

The portal serves what is committed, never the work tree (see ``content/store``), so the
files of a commit are read from git objects: in-process through the repository's pygit2
handle when ``gitwrite`` allows one, otherwise (a SHA-256 repository, say) with one
``git ls-tree`` per listing and one ``git cat-file --batch`` per batch of blobs.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.repo.gitrepo import GitError, is_valid_rev

try:
    import pygit2
except ImportError:  # pragma: no cover - the dependency is declared; the CLI still works
    pygit2 = None

if TYPE_CHECKING:
    from app.repo.gitrepo import GitRepo

BLOB, EXECUTABLE, SYMLINK = 0o100644, 0o100755, 0o120000


@dataclass(frozen=True)
class Entry:
    """One file of a commit's tree."""

    mode: int
    blob: str

    @property
    def is_file(self) -> bool:
        """A regular file (not a symlink, not a submodule)."""
        return self.mode in (BLOB, EXECUTABLE)


def files(repo: GitRepo, rev: str, paths: list[str] | None = None) -> dict[str, Entry]:
    """Path -> entry of every file (symlinks included) at ``rev``, or of just ``paths``.

    Empty when ``rev`` is empty or unknown (a repository without commits).  Paths are
    relative to the repository root with forward slashes; folders are not listed.
    """
    if not is_valid_rev(rev):
        return {}
    native = repo.writer.handle()
    if native is not None:
        try:
            tree = native[rev].peel(pygit2.Tree)
        except (KeyError, ValueError, pygit2.GitError):
            return {}
        if paths is None:
            found: dict[str, Entry] = {}
            _walk(tree, "", found)
            return found
        return {p: e for p in paths if (e := _entry(tree, p)) is not None}
    args = ["ls-tree", "-r", "-z", "--full-tree", rev]
    if paths is not None:
        if not paths:
            return {}
        args += ["--", *(f":(literal){p}" for p in paths)]
    try:
        out = repo.git(*args).decode("utf-8", "surrogateescape")
    except GitError:
        return {}
    listed = {}
    for record in out.split("\0"):
        meta, _, path = record.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            listed[path] = Entry(int(parts[0], 8), parts[2])
    return listed


def _walk(tree, prefix: str, found: dict[str, Entry]) -> None:
    for item in tree:
        name = prefix + item.name
        if item.type_str == "tree":
            _walk(item, name + "/", found)
        elif item.type_str == "blob":
            found[name] = Entry(int(item.filemode), str(item.id))


def _entry(tree, path: str) -> Entry | None:
    try:
        item = tree[path]
    except (KeyError, ValueError, pygit2.GitError):
        return None
    return Entry(int(item.filemode), str(item.id)) if item.type_str == "blob" else None


# From this many blobs on, one ``git cat-file --batch`` process reads them: libgit2 undoes
# a blob's whole delta chain on every lookup (about 0.75 ms a blob in a packed repository
# with git's default depth of 50: 7.5 s for 10,000 documents), where git keeps the bases it
# has undone (0.8 s).  Fewer blobs go through libgit2, which starts no process.
BATCH_BLOBS = 32


def read(repo: GitRepo, blobs: list[str]) -> dict[str, bytes]:
    """Blob id -> bytes for ``blobs`` (ids that cannot be read are left out)."""
    native = repo.writer.handle()
    if native is None or len(blobs) >= BATCH_BLOBS:
        return repo.read_blobs(blobs)
    found = {}
    for blob in dict.fromkeys(blobs):
        with contextlib.suppress(KeyError, ValueError, pygit2.GitError):
            found[blob] = native[blob].data
    return found


def uncommitted(repo: GitRepo) -> list[str]:
    """Work-tree paths that differ from HEAD (edited, added, removed; untracked too)."""
    try:
        out = repo.git("status", "--porcelain", "-z", "--no-renames", "--untracked-files=all")
    except GitError:
        return []
    return sorted(e[3:] for e in out.decode("utf-8", "replace").split("\0") if len(e) > 3)
