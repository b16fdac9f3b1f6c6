"""The content repository: a plain git work tree driven through the git CLI.

Only this module runs ``git``.  Arguments are always passed as a list (never a shell), every
revision id is checked against ``REV_RE`` first, and paths are given after ``--``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

REV_RE = re.compile(r"^[0-9a-f]{7,40}$")
_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class Change:
    sha: str
    when: dt.datetime
    material: bool = False


def is_valid_rev(rev: str) -> bool:
    return bool(REV_RE.fullmatch(rev or ""))


class GitRepo:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.changes = ChangeMap(self)

    def git(self, *args: str, input: bytes | None = None, check: bool = True,
            env: dict | None = None) -> bytes:
        full_env = {**os.environ, **_ENV, **(env or {})}
        proc = subprocess.run(
            ["git", "-C", str(self.root), "-c", "core.quotepath=off", *args],
            input=input, capture_output=True, env=full_env, timeout=60,
        )
        if check and proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def succeeds(self, *args: str) -> bool:
        """Run a git command for its exit status only."""
        env = {**os.environ, **_ENV}
        proc = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True,
                              env=env, timeout=60)
        return proc.returncode == 0

    def is_repo(self) -> bool:
        return (self.root / ".git").exists()

    def git_dir(self) -> Path:
        dot_git = self.root / ".git"
        if dot_git.is_file():  # a worktree or submodule: ".git" holds "gitdir: <path>"
            target = dot_git.read_text().split(":", 1)[1].strip()
            return (self.root / target).resolve()
        return dot_git

    def head(self) -> str:
        """The commit HEAD points to, read from files (no process: this runs per request)."""
        try:
            git_dir = self.git_dir()
            ref = (git_dir / "HEAD").read_text().strip()
            if not ref.startswith("ref: "):
                return ref
            name = ref[5:]
            for base in (git_dir, _common_dir(git_dir)):
                ref_file = base / name
                if ref_file.is_file():
                    return ref_file.read_text().strip()
                packed = base / "packed-refs"
                if packed.is_file():
                    for line in packed.read_text().splitlines():
                        if line.endswith(" " + name):
                            return line.split(" ", 1)[0]
        except OSError:
            pass
        return ""

    def last_change(self, path: str) -> Change | None:
        """The last commit that touched ``path`` (from the change map: no git per call)."""
        return self.changes.last(path)

    def adopt(self) -> bool:
        """Make an existing folder of Markdown a repository, committing what is there."""
        if self.is_repo():
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.commit("Import existing documents", author=("Policy portal", "portal@localhost"),
                    allow_empty=True)
        return True

    def commit(self, message: str, *, author: tuple[str, str], allow_empty: bool = False,
               date: str | None = None) -> str:
        name, email = author
        args = ["commit", "-q", "--no-verify", "-m", message]
        if allow_empty:
            args.append("--allow-empty")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        if date:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        self.git(*args, env=env)
        return self.git("rev-parse", "HEAD").decode().strip()


def _common_dir(git_dir: Path) -> Path:
    common = git_dir / "commondir"
    if common.is_file():
        return (git_dir / common.read_text().strip()).resolve()
    return git_dir


class ChangeMap:
    """Path -> last change and last *material* change, kept current as HEAD moves.

    Built with one ``git log`` walk, then updated incrementally (``OLD..NEW``), so page views
    and dashboards never run git per document.  A commit is material when its message has
    the trailer ``Material: yes`` (set by the editor's "material change" box).
    """

    def __init__(self, repo: GitRepo):
        self.repo = repo
        self._lock = threading.Lock()
        self._head: str | None = None
        self._last: dict[str, Change] = {}
        self._material: dict[str, Change] = {}

    def last(self, path: str) -> Change | None:
        self._refresh()
        return self._last.get(path)

    def last_material(self, path: str) -> Change | None:
        self._refresh()
        return self._material.get(path)

    def _refresh(self) -> None:
        head = self.repo.head()
        if head == self._head or not head:
            return
        with self._lock:
            if head == self._head:
                return
            old = self._head
            incremental = old is not None and self._is_ancestor(old, head)
            last, material = self._walk(f"{old}..{head}" if incremental else head)
            if incremental:
                self._last.update(last)
                self._material.update(material)
            else:
                self._last, self._material = last, material
            self._head = head

    def _is_ancestor(self, old: str, new: str) -> bool:
        # After a force-push or reset the old HEAD is not an ancestor: rebuild from scratch.
        return self.repo.succeeds("merge-base", "--is-ancestor", old, new)

    def _walk(self, rev_range: str) -> tuple[dict[str, Change], dict[str, Change]]:
        try:
            out = self.repo.git("log", "--no-renames", "--name-only", "-z",
                                "--format=%x01%H%x00%cI%x00%(trailers:key=Material,valueonly)",
                                rev_range, "--").decode("utf-8", "replace")
        except GitError:
            return {}, {}
        last: dict[str, Change] = {}
        material: dict[str, Change] = {}
        for record in out.split("\x01")[1:]:
            fields = record.split("\0")
            if len(fields) < 3:
                continue
            sha, when, trailer = fields[0], fields[1], fields[2]
            change = Change(sha, dt.datetime.fromisoformat(when),
                            trailer.strip().lower().startswith("yes"))
            for path in fields[3:]:
                path = path.strip("\n")
                if not path:
                    continue
                last.setdefault(path, change)
                if change.material:
                    material.setdefault(path, change)
        return last, material
