"""Which commit last changed each file, and which last changed it *materially*."""

from __future__ import annotations

import datetime as dt
import threading

from app.repo.gitcore import Change, GitCommands, GitError
from app.repo.headmoves import HeadMoves


class ChangeMap:
    """Path -> last change and last *material* change, kept current as HEAD moves.

    Built with one ``git log`` walk, then updated incrementally (``OLD..NEW``), so page views
    and dashboards never run git per document.  A commit is material when its message has
    the trailer ``Material: yes`` (set by the editor's "material change" box).
    """

    def __init__(self, repo: GitCommands, moves: HeadMoves):
        self.repo = repo
        self.moves = moves
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

    def materials(self) -> dict[str, Change]:
        """Path -> last material change, for a whole list at once: one HEAD check, not one
        per document (the "To read" count is on every staff page)."""
        self._refresh()
        return self._material

    def _refresh(self) -> None:
        head = self.repo.head()
        if head == self._head or not head:
            return
        with self._lock:
            if head == self._head:
                return
            # The commits since the head we reflect, shared with the other HEAD-keyed
            # caches; None after a force-push or reset: then rebuild from scratch.
            move = self.moves.between(self._head, head)
            if move is not None:
                last: dict[str, Change] = {}
                material: dict[str, Change] = {}
                for commit in move.commits:  # newest first
                    change = Change(commit.sha, commit.when, commit.material)
                    for path in commit.paths:
                        last.setdefault(path, change)
                        if change.material:
                            material.setdefault(path, change)
                self._last.update(last)
                self._material.update(material)
            else:
                self._last, self._material = self._walk(head)
            self._head = head

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
