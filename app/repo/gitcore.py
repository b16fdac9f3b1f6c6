"""Running git: the one place that starts ``git`` processes, reads HEAD from files, and the
types every repository module shares (errors, ``Change``, the revision-id rule).

Arguments are always passed as a list (never a shell), every revision id is checked against
``REV_RE`` first, and paths are given after ``--``. Imports nothing from the project.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Full or abbreviated commit and blob ids: 40 hex digits in SHA-1 repositories, 64 in SHA-256.
REV_RE = re.compile(r"^[0-9a-f]{7,64}$")
_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
    # Our reads (``status`` when the search index catches up) must not take index.lock to
    # refresh the index as a side effect: an editor's own ``git commit`` at that moment
    # would fail with "index.lock: File exists".  Locks a write needs are not optional.
    "GIT_OPTIONAL_LOCKS": "0",
}


class GitError(RuntimeError):
    pass


class RefMoved(GitError):
    """``update_ref`` found the branch no longer at the expected commit (a concurrent write)."""


@dataclass(frozen=True)
class Change:
    sha: str
    when: dt.datetime
    material: bool = False


def is_valid_rev(rev: str) -> bool:
    return bool(REV_RE.fullmatch(rev or ""))


class GitCommands:
    """A git work tree: run git in it, read its HEAD; the base of ``GitRepo``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._dirs: tuple[str, ...] | None = None
        self._format: str | None = None  # object format, asked of git once
        # Where a reader keeps the HEAD it read (a dict), or None: set by the web layer so
        # one GET request reads HEAD once and serves one commit's view throughout.
        self.head_memo: Callable[[], dict | None] | None = None

    def git(self, *args: str, input: bytes | None = None, check: bool = True,
            env: dict | None = None) -> bytes:
        full_env = {**os.environ, **_ENV, **(env or {})}
        proc = subprocess.run(
            ["git", "-C", str(self.root), "-c", "core.quotepath=off", *args],
            input=input, capture_output=True, env=full_env, timeout=60,
        )
        self.forget_head()
        if check and proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def is_repo(self) -> bool:
        return (self.root / ".git").exists()

    def git_dir(self) -> Path:
        dot_git = self.root / ".git"
        if dot_git.is_file():  # a worktree or submodule: ".git" holds "gitdir: <path>"
            target = dot_git.read_text().split(":", 1)[1].strip()
            return (self.root / target).resolve()
        return dot_git

    def head(self) -> str:
        """The commit HEAD points to (as first read in this request, when ``head_memo``
        keeps one)."""
        memo = self.head_memo() if self.head_memo is not None else None
        if memo is not None and (kept := memo.get("kb_head")) is not None:
            return kept
        found = self._read_head()
        if memo is not None and found:
            memo["kb_head"] = found
        return found

    def forget_head(self) -> None:
        """After a write (or any git process, which may have moved HEAD): read it again."""
        memo = self.head_memo() if self.head_memo is not None else None
        if memo is not None:
            memo.pop("kb_head", None)

    def _read_head(self) -> str:
        """HEAD read from files (no process: this runs per request, so plain ``open`` and no
        pathlib)."""
        try:
            dirs = self._dirs or self._find_dirs()
            with open(os.path.join(dirs[0], "HEAD"), "rb") as handle:
                ref = handle.read().decode().strip()
            if not ref.startswith("ref: "):
                return ref
            name = ref[5:]
            for base in dirs:
                try:
                    with open(os.path.join(base, name), "rb") as handle:
                        return handle.read().decode().strip()
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    pass
                packed = os.path.join(base, "packed-refs")
                if os.path.isfile(packed):
                    with open(packed, encoding="utf-8") as handle:
                        for line in handle.read().splitlines():
                            if line.endswith(" " + name):
                                return line.split(" ", 1)[0]
        except OSError:
            pass
        return ""

    def _find_dirs(self) -> tuple[str, ...]:
        """The git dir and, for a worktree, the common dir (kept once the repo exists)."""
        git_dir = self.git_dir()
        if not (git_dir / "HEAD").is_file():
            raise FileNotFoundError(git_dir)
        self._dirs = tuple(dict.fromkeys((str(git_dir), str(_common_dir(git_dir)))))
        return self._dirs

    def run(self, args: list[str], *, input: bytes | None = None) -> subprocess.CompletedProcess:
        """git with the same environment, returning the process (the caller reads its status)."""
        proc = subprocess.run(["git", "-C", str(self.root), *args], input=input,
                              capture_output=True, env={**os.environ, **_ENV}, timeout=60)
        self.forget_head()
        return proc

    def is_ancestor(self, old: str, new: str) -> bool:
        if not (is_valid_rev(old) and is_valid_rev(new)):
            return False
        return self.run(["merge-base", "--is-ancestor", old, new]).returncode == 0


def _common_dir(git_dir: Path) -> Path:
    common = git_dir / "commondir"
    if common.is_file():
        return (git_dir / common.read_text().strip()).resolve()
    return git_dir
