"""Branches other than the one HEAD names: proposals (``refs/heads/proposals/...``).

Reads only, through the git CLI with list arguments (as ``gitrepo``); a proposal's commits
are written by ``app.editing.save`` like every other commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.repo.gitrepo import GitError, is_valid_rev

if TYPE_CHECKING:
    from app.repo.gitrepo import GitRepo

PREFIX = "refs/heads/proposals/"
ARCHIVE = "refs/portal/proposals/"  # last tip the portal saw, kept so nothing is lost


@dataclass(frozen=True)
class BranchCommit:
    sha: str
    author: str
    when: dt.datetime
    subject: str
    public_note: str
    material: bool


def refs(git: GitRepo, prefix: str = PREFIX) -> dict[str, str]:
    """Ref name -> commit for every ref under ``prefix``."""
    out = git.git("for-each-ref", "--format=%(refname)%00%(objectname)", prefix, check=False)
    found = {}
    for line in out.decode("utf-8", "replace").splitlines():
        name, _, sha = line.partition("\0")
        if is_valid_rev(sha):
            found[name] = sha
    return found


def tip(git: GitRepo, ref: str) -> str:
    """The commit ``ref`` points to ('' when it does not exist)."""
    return refs(git, ref).get(ref, "")


def merge_base(git: GitRepo, a: str, b: str) -> str:
    if not (is_valid_rev(a) and is_valid_rev(b)):
        return ""
    try:
        return git.git("merge-base", a, b).decode().strip()
    except GitError:
        return ""


def changed_paths(git: GitRepo, old: str, new: str) -> list[str]:
    """Files whose content differs between two commits (no rename detection)."""
    if not (is_valid_rev(old) and is_valid_rev(new)):
        return []
    out = git.git("diff", "--no-renames", "--name-only", "-z", old, new, "--", check=False)
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]


def commits(git: GitRepo, base: str, tip_sha: str) -> list[BranchCommit]:
    """The commits on ``tip_sha`` that ``base`` lacks, oldest first."""
    if not (is_valid_rev(base) and is_valid_rev(tip_sha)):
        return []
    fmt = ("%x1e%H%x1f%an%x1f%aI%x1f%s%x1f"
           "%(trailers:key=Public-Note,valueonly,separator=%x20)%x1f"
           "%(trailers:key=Material,valueonly,separator=%x20)")
    out = git.git("log", "--reverse", f"--format={fmt}", f"{base}..{tip_sha}", check=False)
    found = []
    for record in out.decode("utf-8", "replace").split("\x1e")[1:]:
        fields = record.split("\x1f")
        if len(fields) < 6:
            continue
        sha, author, when, subject, note, material = fields[:6]
        found.append(BranchCommit(sha, author, dt.datetime.fromisoformat(when.strip()),
                                  subject, note.strip(),
                                  material.strip().lower().startswith("yes")))
    return found


def keep(git: GitRepo, ref: str, sha: str) -> None:
    """Point ``ref`` (under ``ARCHIVE``) at ``sha`` so a deleted or rewritten branch loses
    nothing: git's garbage collection keeps what a ref names."""
    if is_valid_rev(sha) and ref.startswith(ARCHIVE):
        git.git("update-ref", "-m", "portal keeps proposal", ref, sha, check=False)


def delete(git: GitRepo, ref: str, sha: str) -> bool:
    """Delete ``ref`` if it still points at ``sha``."""
    if not (is_valid_rev(sha) and ref.startswith(PREFIX)):
        return False
    try:
        git.git("update-ref", "-d", ref, sha)
    except GitError:
        return False
    return True
