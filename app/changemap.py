"""Which commit last changed each file, and which last changed it *materially*."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

from .gitrepo import Change, GitError

if TYPE_CHECKING:
    from .gitrepo import GitRepo

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
        return self.repo.is_ancestor(old, new)

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
