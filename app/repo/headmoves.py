"""What changed when HEAD moved: the commits and files between two heads, once per move.

Every per-worker cache keyed on HEAD (the content catalogue, the change map, the public
versions of upcoming documents, revision lists) must notice a save made by another worker.
Rebuilding each of them on every commit costs a save as much as hundreds of page views, so
they ask this instead: "what changed between the head I reflect and the head now?".  The
answer comes from one ``git log OLD..NEW`` per head move per process, shared by all caches
(or from no git at all, when this process made the commit: ``record``).  A save also
leaves its move in the data directory (``share``), so the other workers learn it by reading
one small file instead of running git.  ``None`` means the move was not a plain
fast-forward (a reset, a force-push): callers then rebuild from scratch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from app.caching import sharedfiles
from app.caching.lru import SizedLRU
from app.repo.gitcore import GitCommands, GitError, is_valid_rev

_KEPT = 256  # moves remembered per process (one per commit; a few bytes each)
SHARED_SECONDS = 3600  # shared move files older than this are pruned (git can still tell)
_FORMAT = "--format=%x01%H%x00%P%x00%cI%x00%(trailers:key=Material,valueonly)"


@dataclass(frozen=True)
class Commit:
    """One commit of a move and the files it changed (as ``git log --name-only``)."""

    sha: str
    when: dt.datetime
    material: bool
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Move:
    """HEAD went from ``old`` to ``new`` through ``commits`` (newest first)."""

    old: str
    new: str
    commits: tuple[Commit, ...]
    paths: frozenset[str]  # every file whose content may differ between old and new

    def touches(self, path: str) -> bool:
        return path in self.paths


class HeadMoves:
    """Per-process memory of recent head moves, filled from git at most once per move."""

    def __init__(self, repo: GitCommands):
        self.repo = repo
        self.shared: Path | None = None  # KB_DATA_DIR/moves, set by the app
        self.key = b""  # signs the shared files (``sharedfiles``), set by the app
        # Old head -> its move (the commits and paths it touched).
        self._moves = SizedLRU(max_bytes=4 << 20, max_items=_KEPT,
                               size_of=lambda m: 200 * len(m.commits) + 80 * len(m.paths))

    def share(self, move: Move) -> None:
        """Record a move this process made and leave it for the other workers."""
        self.record(move)
        if self.shared is None:
            return
        data = {"old": move.old, "new": move.new, "paths": sorted(move.paths),
                "commits": [[c.sha, c.when.isoformat(), c.material, list(c.paths)]
                            for c in move.commits]}
        # Should the write fail, the others ask git.
        sharedfiles.write(self.shared / move.old, data, keep_seconds=SHARED_SECONDS,
                          key=self.key)

    def _shared_move(self, old: str) -> Move | None:
        """The move from ``old`` another worker left, if any (checked: it must start there)."""
        if self.shared is None:
            return None
        data = sharedfiles.read(self.shared / old, key=self.key)
        try:
            commits = tuple(Commit(sha, dt.datetime.fromisoformat(when), bool(material),
                                   tuple(paths)) for sha, when, material, paths in data["commits"])
            move = Move(data["old"], data["new"], commits, frozenset(data["paths"]))
        except (KeyError, TypeError, ValueError):
            return None
        if move.old != old or not is_valid_rev(move.new):
            return None
        return move

    def record(self, move: Move) -> None:
        """Remember a move this process made itself (a save): no git needed to learn it."""
        self._moves.put(move.old, move)

    def between(self, old: str | None, new: str) -> Move | None:
        """The move from ``old`` to ``new``; None when unknown or not a fast-forward."""
        if not old or not new or not (is_valid_rev(old) and is_valid_rev(new)):
            return None
        if old == new:
            return Move(old, new, (), frozenset())
        chain: list[Move] = []
        at = old
        while at != new and len(chain) < _KEPT:
            move = self._moves.get(at)
            if move is None:
                move = self._shared_move(at)
                if move is None:
                    break
                self.record(move)
            chain.append(move)
            at = move.new
        if at != new:
            gap = self._ask_git(at, new)
            if gap is None:
                return None
            self.record(gap)
            chain.append(gap)
        if len(chain) == 1:
            return chain[0]
        commits = tuple(c for move in reversed(chain) for c in move.commits)
        return Move(old, new, commits, frozenset().union(*(m.paths for m in chain)))

    def _ask_git(self, old: str, new: str) -> Move | None:
        try:
            out = self.repo.git("log", "--no-renames", "--name-only", "-z", _FORMAT,
                                f"{old}..{new}", "--").decode("utf-8", "replace")
        except GitError:  # ``old`` is gone (history rewritten)
            return None
        commits, parents, shas, merges = [], set(), set(), False
        for record in out.split("\x01")[1:]:
            fields = record.split("\0")
            if len(fields) < 4:
                continue
            sha, parent_ids, when, trailer = fields[:4]
            paths = tuple(p.strip("\n") for p in fields[4:] if p.strip("\n"))
            commits.append(Commit(sha, dt.datetime.fromisoformat(when),
                                  trailer.strip().lower().startswith("yes"), paths))
            shas.add(sha)
            parents.update(parent_ids.split())
            merges = merges or len(parent_ids.split()) > 1
        if not commits:
            return None  # HEAD went back (a reset): nothing new, but things vanished
        outside = parents - shas - {old}
        if outside and not self.repo.is_ancestor(old, new):
            return None
        paths = frozenset(p for c in commits for p in c.paths)
        if merges:
            # ``--name-only`` lists nothing for a merge commit itself (its conflict
            # resolution): the net diff names every file that differs.
            try:
                diff = self.repo.git("diff", "--no-renames", "--name-only", "-z", old, new, "--")
            except GitError:
                return None
            paths |= {p for p in diff.decode("utf-8", "replace").split("\0") if p}
        return Move(old, new, tuple(commits), paths)
