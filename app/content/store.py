"""Content loading: find documents in the content work tree and parse their front matter.

A document is a Markdown file with optional YAML front matter.  Files under ``policies/`` are
policies and files under ``faq/`` are FAQ entries; the slug is the path inside that folder
without ``.md``.  A repository with neither folder (a plain handbook) is served as policies,
slug = path from the root.  Nothing here decides who may read what: see ``audience.py``.
"""

from __future__ import annotations

import bisect
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

# Documents and their rules live in ``document``; these names are imported from here too.
from app.content.document import (  # noqa: F401
    AUDIENCES,
    FRONT_MATTER_RE,
    KINDS,
    MAX_BYTES,
    META_FIELDS,
    SECTIONS,
    SLUG_RE,
    Document,
    Problem,
    compose,
    is_safe_slug,
    parse,
    split_front_matter,
)
from app.caching import sharedfiles

if TYPE_CHECKING:
    from app.repo.headmoves import Move


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """Which file, and which version of it: a parse is reused while this is unchanged."""
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _catalogue_order(doc: Document) -> tuple:
    return doc.kind != "policy", doc.title.lower(), doc.path


class ContentStore:
    """The documents of one content root, cached by file modification time.

    Single documents are read per request (a ``stat`` checks freshness), so an edit shows at
    once.  The catalogue of all documents (lists, sitemap) follows the repository's HEAD: a
    commit re-reads just the files it touched (``headmoves``); a full rescan runs every
    ``rescan_seconds`` for edits not yet committed and after a reset, and parses only
    changed files again (a warm rescan of 10,000 files takes a few tens of milliseconds).
    """

    def __init__(self, root: str | os.PathLike, *, rescan_seconds: float = 30.0,
                 head: Callable[[], str] | None = None,
                 moves: Callable[[str | None, str], Move | None] | None = None):
        self.root = Path(root)
        self._real_root = self.root.resolve()
        self.rescan_seconds = rescan_seconds
        self._head = head or (lambda: "")
        self._moves = moves  # (old head, new head) -> what changed, or None: rescan
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[tuple[int, ...], Document]] = {}
        self._catalogue: list[Document] = []
        self._scanned_at = 0.0
        self._scanned_head: str | None = None
        self._layout: dict[str, str] | None = None

    # -- layout ---------------------------------------------------------------------------
    def folders(self) -> dict[str, str]:
        """Kind -> folder ('' for a plain handbook served whole as policies)."""
        present = {k: f for k, f in KINDS.items() if (self.root / f).is_dir()}
        return present or {"policy": ""}

    def path_for(self, kind: str, slug: str) -> Path | None:
        """The file that would hold (kind, slug), or None when the slug is not allowed."""
        folders = self.folders()
        if kind not in folders or not is_safe_slug(slug):
            return None
        base = folders[kind]
        rel = f"{base}/{slug}.md" if base else f"{slug}.md"
        return self.root / rel

    # -- single documents -------------------------------------------------------------------
    def get(self, kind: str, slug: str) -> Document | None:
        path = self.path_for(kind, slug)
        if path is None:
            return None
        return self._load(kind, slug, str(path), path.relative_to(self.root).as_posix())

    def _load(self, kind: str, slug: str, path: str, rel: str, *, walked: bool = False
              ) -> Document | None:
        """Parse ``path`` (``rel`` to the root) unless the cached parse is still current.

        ``walked`` paths come from ``os.walk`` without following links, so only a symlinked
        file itself needs the (slower) containment check.  Plain strings, not pathlib: this
        runs for every file of a 10,000-document catalogue.
        """
        try:
            st = os.lstat(path) if walked else os.stat(path)
            cached = self._parsed.get(rel)
            # The very file (device and inode) found inside the root before, unchanged: the
            # containment check (a realpath, one lstat per path component) need not run again
            # on every page view.
            if cached and cached[0] == _identity(st) and not stat.S_ISLNK(st.st_mode):
                return cached[1]
            if stat.S_ISLNK(st.st_mode) or not walked:
                if not Path(os.path.realpath(path)).is_relative_to(self._real_root):
                    return None  # a symlink must not reach outside the content root
                st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        if cached and cached[0] == _identity(st):
            return cached[1]
        if st.st_size > MAX_BYTES:
            doc = parse(b"", kind=kind, slug=slug, path=rel)
            doc.problems.append(Problem(rel, None, f"file is {st.st_size:,} bytes; the limit is "
                                                   f"{MAX_BYTES:,}"))
            doc.audience = "internal"
        else:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                return None
            doc = parse(data, kind=kind, slug=slug, path=rel)
        doc.mtime = st.st_mtime
        self._parsed[rel] = (_identity(st), doc)
        return doc

    # -- catalogue --------------------------------------------------------------------------
    def all(self) -> list[Document]:
        """Every document, sorted by kind then title.  Cheap when nothing changed.

        When HEAD moved by commits this store can be told about (``moves``), only the files
        those commits touched are read again; a full rescan still runs every
        ``rescan_seconds`` (uncommitted edits) and after any other kind of move.
        """
        now = time.monotonic()
        head = self._head()
        if head == self._scanned_head and now - self._scanned_at < self.rescan_seconds:
            return self._catalogue
        with self._lock:
            if head == self._scanned_head and now - self._scanned_at < self.rescan_seconds:
                return self._catalogue
            move = None
            if now - self._scanned_at < self.rescan_seconds and self._moves is not None:
                move = self._moves(self._scanned_head, head)
            if move is not None and self.folders() == self._layout:
                self._catalogue = self._patch(move.paths)
                self._scanned_head = head  # the periodic rescan keeps its own clock
            else:
                self._layout = self.folders()
                self._catalogue = self._scan()
                self._scanned_head, self._scanned_at = head, time.monotonic()
        return self._catalogue

    def _patch(self, paths: Iterable[str]) -> list[Document]:
        """The catalogue with ``paths`` (relative to the root) read again."""
        changed = set(paths)
        docs = [d for d in self._catalogue if d.path not in changed]
        for rel in changed:
            self._parsed.pop(rel, None)  # a rewrite within one mtime tick must still show
            located = self.locate(rel)
            doc = self._load(*located, os.path.join(self.root, rel), rel) if located else None
            if doc is not None:
                bisect.insort(docs, doc, key=_catalogue_order)
        return docs

    def locate(self, rel: str) -> tuple[str, str] | None:
        """(kind, slug) of a path relative to the root, or None when it is not served."""
        if not rel.endswith(".md"):
            return None
        for kind, folder in self.folders().items():
            prefix = f"{folder}/" if folder else ""
            if rel.startswith(prefix) and is_safe_slug(rel[len(prefix):-3]):
                return kind, rel[len(prefix):-3]
        return None

    def _scan(self) -> list[Document]:
        docs: list[Document] = []
        seen: set[str] = set()
        root = str(self.root)
        for kind, folder in self.folders().items():
            base = os.path.join(root, folder) if folder else root
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
                slug_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
                for name in sorted(filenames):
                    if not name.endswith(".md"):
                        continue
                    slug = name[:-3] if slug_dir == "." else f"{slug_dir}/{name[:-3]}"
                    if not is_safe_slug(slug):
                        continue
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                    doc = self._load(kind, slug, os.path.join(dirpath, name), rel, walked=True)
                    if doc is not None:
                        docs.append(doc)
                        seen.add(doc.path)
        for rel in list(self._parsed):  # forget deleted files
            if rel not in seen:
                self._parsed.pop(rel, None)
        docs.sort(key=_catalogue_order)
        return docs

    def unsafe_files(self) -> list[str]:
        """Markdown files whose names cannot be served (reported by ``kb check``)."""
        bad = []
        for folder in self.folders().values():
            base = self.root / folder if folder else self.root
            for path in base.rglob("*.md"):
                rel = path.relative_to(base).as_posix()
                if any(part.startswith(".") for part in Path(rel).parts):
                    continue
                if not is_safe_slug(rel[:-3]):
                    bad.append(path.relative_to(self.root).as_posix())
        return sorted(bad)


def init_app(app) -> None:
    """Attach the content store (and its git repository) to ``app``."""
    from app.repo.gitrepo import GitRepo

    repo = GitRepo(app.config["KB_CONTENT_DIR"])
    repo.moves.shared = Path(app.config["KB_DATA_DIR"]) / "moves"  # saves tell other workers
    repo.moves.key = sharedfiles.signing_key(app.config["SECRET_KEY"], "head moves")
    app.extensions["kb_repo"] = repo
    app.extensions["kb_store"] = ContentStore(repo.root, head=repo.head,
                                              moves=repo.moves.between)


def document_at(section: str, slug: str) -> Document | None:
    """The document at ``/<section>/<slug>``, or None (unknown section, unsafe slug, missing)."""
    kind = SECTIONS.get(section)
    return store().get(kind, slug) if kind else None


def store() -> ContentStore:
    from flask import current_app

    return current_app.extensions["kb_store"]


def repo():
    from flask import current_app

    return current_app.extensions["kb_repo"]
