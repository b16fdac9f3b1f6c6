"""The content repository: history reads, blobs, commits and branch moves.

Built on ``gitcore`` (the git process, HEAD, shared types). A save's objects (blobs, trees,
commit) and its look-ups are made in-process through ``gitwrite`` (pygit2) when the repository
allows it, with git CLI commands as the fallback.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from pathlib import Path

from app.repo import gitwrite
from app.repo.changemap import ChangeMap
from app.repo.gitcore import (  # noqa: F401  (the repository's types, imported from here too)
    REV_RE,
    Change,
    GitCommands,
    GitError,
    RefMoved,
    is_valid_rev,
)
from app.repo.gitlog import LogEntry, parse_commits, parse_log
from app.repo.headmoves import HeadMoves


class GitRepo(GitCommands):
    @functools.cached_property
    def changes(self) -> ChangeMap:
        """Last (and last material) change per file, kept current as HEAD moves."""
        return ChangeMap(self, self.moves)

    @functools.cached_property
    def writer(self) -> gitwrite.Writer:
        """In-process object writing and look-ups (one pygit2 handle per thread)."""
        return gitwrite.Writer(self.root)

    @functools.cached_property
    def moves(self) -> HeadMoves:
        """What changed between two heads, learned once per head move (see headmoves)."""
        return HeadMoves(self)

    def last_change(self, path: str) -> Change | None:
        """The last commit that touched ``path`` (from the change map: no git per call)."""
        return self.changes.last(path)

    # -- reading history --------------------------------------------------------------------
    def log_file(self, path: str, *, since: str | None = None) -> list[LogEntry]:
        """Every commit that touched ``path`` (following renames), newest first.

        ``since`` limits the walk to commits after that one (``since..HEAD``) so callers can
        extend a cached list instead of walking 10,000 commits again.
        """
        if since is not None and not is_valid_rev(since):
            raise GitError("invalid revision")
        fmt = ("%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f"
               "%(trailers:key=Public-Note,valueonly,separator=%x20)%x1f"
               "%(trailers:key=Material,valueonly,separator=%x20)%x1f")
        # The main line only: a published proposal is one merge, its branch commits are not
        # revisions of their own (``--diff-merges`` shows the merge's change to that line).
        args = ["log", "--follow", "-M", "--raw", "-z", "--no-abbrev", "--first-parent",
                "--diff-merges=first-parent", f"--format={fmt}"]
        if since:
            args.append(f"{since}..HEAD")
        out = self.git(*args, "--", path, check=False).decode("utf-8", "replace")
        return parse_log(out, path)

    def blob_sizes(self, blobs: list[str]) -> dict[str, int]:
        wanted = [b for b in dict.fromkeys(blobs) if b and is_valid_rev(b)]
        if not wanted:
            return {}
        out = self.git("cat-file", "--batch-check=%(objectname) %(objectsize)",
                       input=("\n".join(wanted) + "\n").encode()).decode()
        sizes = {}
        for line in out.splitlines():
            name, _, size = line.partition(" ")
            if size.isdigit():
                sizes[name] = int(size)
        return sizes

    def read_blobs(self, blobs: list[str]) -> dict[str, bytes]:
        """Contents of many blobs in one ``cat-file --batch`` process."""
        wanted = [b for b in dict.fromkeys(blobs) if b and is_valid_rev(b)]
        if not wanted:
            return {}
        out = self.git("cat-file", "--batch", input=("\n".join(wanted) + "\n").encode())
        found: dict[str, bytes] = {}
        pos = 0
        while pos < len(out):
            end = out.index(b"\n", pos)
            header = out[pos:end].decode().split()
            pos = end + 1
            if len(header) < 3 or header[1] == "missing":
                continue
            size = int(header[2])
            found[header[0]] = out[pos:pos + size]
            pos += size + 1
        return found

    def read_file(self, rev: str, path: str) -> bytes | None:
        """``path`` as it was at ``rev`` (None when it did not exist there)."""
        if not is_valid_rev(rev) or path.startswith(("-", "/")) or ".." in path.split("/"):
            return None
        proc = self.run(["cat-file", "blob", f"{rev}:{path}"])
        return proc.stdout if proc.returncode == 0 else None

    def blob_at(self, rev: str, path: str) -> str:
        """The blob id of ``path`` at ``rev`` ('' when absent)."""
        return self.blobs_at([(rev, path)])[0]

    def blobs_at(self, wanted: list[tuple[str, str]]) -> list[str]:
        """Blob ids of several (rev, path) pairs in one process ('' for each one absent)."""
        names = [f"{rev}:{path}" for rev, path in wanted
                 if is_valid_rev(rev) and not path.startswith(("-", "/"))
                 and ".." not in path.split("/") and "\n" not in path]
        found: dict[str, str] = {}
        native = self.writer.handle() if names else None
        if native is not None:
            pairs = [tuple(name.split(":", 1)) for name in names]
            found = dict(zip(names, gitwrite.blobs_at(native, pairs), strict=True))
        elif names:
            out = self.run(["cat-file", "--batch-check=%(objectname) %(objecttype)"],
                            input=("\n".join(names) + "\n").encode())
            # One line per name, in order: "<id> <type>", or "<name> missing".
            for name, line in zip(names, out.stdout.decode("utf-8", "replace").splitlines(),
                                  strict=False):
                oid, _, kind = line.rpartition(" ")
                if kind == "blob":
                    found[name] = oid
        return [found.get(f"{rev}:{path}", "") for rev, path in wanted]

    def resolve(self, rev: str) -> str:
        """Full commit id for an abbreviated one ('' when unknown)."""
        if not is_valid_rev(rev):
            return ""
        proc = self.run(["rev-parse", "--verify", "-q", f"{rev}^{{commit}}"])
        return proc.stdout.decode().strip() if proc.returncode == 0 else ""

    def recent_changes(self, *, limit: int) -> list[tuple[LogEntry, ...]]:
        """The last ``limit`` commits with the Markdown files each one changed."""
        fmt = ("%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f"
               "%(trailers:key=Public-Note,valueonly,separator=%x20)%x1f"
               "%(trailers:key=Material,valueonly,separator=%x20)%x1f")
        out = self.git("log", "-M", "--raw", "-z", "--no-abbrev", f"-n{int(limit)}",
                       "--first-parent", "--diff-merges=first-parent",
                       f"--format={fmt}", check=False).decode("utf-8", "replace")
        return parse_commits(out)

    # -- writing: plumbing only, so a crash can never leave a half-made commit on the branch --
    def hash_object(self, data: bytes) -> str:
        native = self.writer.handle()
        if native is not None:
            return str(native.create_blob(data))
        return self.git("hash-object", "-w", "--stdin", input=data).decode().strip()

    def hash_object_dry(self, data: bytes) -> str:
        """The blob id ``data`` would get, without writing it (computed here for SHA-1
        repositories: no process; a pygit2 handle is only ever opened on one)."""
        if self.writer.handle() is not None or self._object_format() == "sha1":
            return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False
                                ).hexdigest()
        return self.git("hash-object", "--stdin", input=data).decode().strip()

    def _object_format(self) -> str:
        if self._format is None:
            self._format = self.git("rev-parse", "--show-object-format").decode().strip()
        return self._format

    def branch_ref(self) -> str:
        """The branch HEAD names, read from the HEAD file like ``head`` (no process)."""
        try:
            dirs = self._dirs or self._find_dirs()
            with open(os.path.join(dirs[0], "HEAD"), "rb") as handle:
                ref = handle.read().decode().strip()
            if ref.startswith("ref: refs/"):
                return ref[5:]
        except OSError:
            pass
        return self.git("symbolic-ref", "-q", "HEAD").decode().strip() or "refs/heads/main"

    def make_commit(self, parent: str, changes: dict[str, str | None], message: str, *,
                    author: tuple[str, str], tmp_index: Path,
                    when: dt.datetime | None = None, extra_parents: tuple[str, ...] = ()) -> str:
        """A commit on top of ``parent`` with ``changes`` (path -> blob, None = remove).

        Built in-process (``gitwrite``) or, as a fallback, in a private index file: neither
        the branch nor the work tree is touched.
        ``when`` (timezone-aware, whole seconds) fixes the commit's date, so the caller
        knows it without reading the commit back.
        """
        native = self.writer.handle()
        if native is not None:
            return gitwrite.make_commit(native, parent, changes, message, author=author,
                                        when=when, extra_parents=extra_parents)
        env = {"GIT_INDEX_FILE": str(tmp_index)}
        try:
            self.git("read-tree", parent, env=env)
            lines = []
            null = "0" * (64 if self._object_format() == "sha256" else 40)
            for path, blob in changes.items():
                if blob is None:
                    lines.append(f"0 {null}\t{path}")
                else:
                    lines.append(f"100644 {blob}\t{path}")
            self.git("update-index", "--index-info",
                     input=("\n".join(lines) + "\n").encode(), env=env)
            tree = self.git("write-tree", env=env).decode().strip()
        finally:
            tmp_index.unlink(missing_ok=True)
        name, email = author
        ident = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                 "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        if when is not None:
            stamp = f"{int(when.timestamp())} {when.strftime('%z')}"
            ident.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        merged = [arg for p in extra_parents for arg in ("-p", p)]
        return self.git("commit-tree", tree, "-p", parent, *merged, input=message.encode(),
                        env=ident).decode().strip()

    def update_ref(self, new: str, old: str, ref: str = "") -> None:
        """Move the branch (or ``ref``) to ``new`` only if it is still at ``old``
        (compare-and-swap; ``old`` empty: only if ``ref`` does not exist yet)."""
        ref = ref or self.branch_ref()
        native = self.writer.handle()
        if native is not None:
            moved = gitwrite.move_branch(native, ref, new, old, "portal save")
            self.forget_head()
            if not moved:
                raise RefMoved(f"{ref} is no longer at {old}")
            return
        null = "0" * (64 if self._object_format() == "sha256" else 40)
        proc = self.run(["update-ref", "-m", "portal save", ref, new, old or null])
        if proc.returncode != 0:
            raise RefMoved(proc.stderr.decode(errors="replace").strip())

    def sync_index(self, paths: list[str]) -> None:
        """Make git's own index agree with HEAD for ``paths`` so ``git status`` stays clean."""
        native = self.writer.handle()
        if native is not None and gitwrite.sync_index(native, paths):
            return
        self.run(["reset", "-q", "HEAD", "--", *paths])

    def fsck(self) -> bool:
        return self.run(["fsck", "--no-progress"]).returncode == 0

    def merge_file(self, yours: bytes, base: bytes, theirs: bytes, tmp_dir: Path
                   ) -> tuple[bytes, bool]:
        """Three-way merge of texts; returns (result, clean)."""
        import tempfile

        with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
            names = []
            for label, data in (("yours", yours), ("base", base), ("theirs", theirs)):
                target = Path(tmp) / label
                target.write_bytes(data)
                names.append(str(target))
            proc = self.run(["merge-file", "-p", "-L", "yours", "-L", "base", "-L", "theirs",
                              *names])
        return proc.stdout, proc.returncode == 0

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


