"""Content loading: the documents committed at HEAD, their front matter parsed.

A document is a Markdown file with optional YAML front matter.  Files under ``policies/`` are
policies and files under ``faq/`` are FAQ entries; the slug is the path inside that folder
without ``.md``.  A repository with neither folder (a plain handbook) is served as policies,
slug = path from the root.  Nothing here decides who may read what: see ``audience.py``.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, g, has_request_context, request

from app.caching import sharedfiles

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
from app.repo import gittree
from app.repo.gitrepo import GitRepo
from app.repo.headmoves import Move


def _catalogue_order(doc: Document) -> tuple:
    return doc.kind != "policy", doc.title.lower(), doc.path


def _layout(files: Iterable[str]) -> dict[str, str]:
    """Kind -> folder of a tree's files ('' for a plain handbook served whole as policies)."""
    tops = {path.split("/", 1)[0] for path in files if "/" in path}
    return {k: f for k, f in KINDS.items() if f in tops} or {"policy": ""}


def _rel(folders: dict[str, str], kind: str, slug: str) -> str | None:
    if kind not in folders or not is_safe_slug(slug):
        return None
    return f"{folders[kind]}/{slug}.md" if folders[kind] else f"{slug}.md"


def _located(folders: dict[str, str], rel: str) -> tuple[str, str] | None:
    if not rel.endswith(".md"):
        return None
    for kind, folder in folders.items():
        prefix = f"{folder}/" if folder else ""
        if rel.startswith(prefix) and is_safe_slug(rel[len(prefix):-3]):
            return kind, rel[len(prefix):-3]
    return None


@dataclass
class _Tree:
    """What this store knows of one commit: its files, its layout, and (once asked for)
    its catalogue."""

    head: str
    files: dict[str, gittree.Entry]
    folders: dict[str, str]
    catalogue: list[Document] | None = None


class ContentStore:
    """The documents of the content repository as committed at HEAD.

    Only git objects are read, never the work tree: an edit that is not committed has no
    author, no message and no history, so it is not published (``kb check`` warns about
    it).  HEAD is read from a file on every call, so a commit made outside the portal shows
    on the next request.  When HEAD moves by commits this store can be told about
    (``moves``), only the files those commits touched are looked up again; otherwise the
    tree is listed afresh.  Parses are kept by blob id and path: a blob never changes, so a
    parse is never stale and a list rebuilt after a reset parses only the files that differ.
    """

    def __init__(self, root: str | os.PathLike, *, repo: GitRepo | None = None,
                 head: Callable[[], str] | None = None,
                 moves: Callable[[str | None, str], Move | None] | None = None):
        self.root = Path(root)
        self.repo = repo or GitRepo(self.root)
        self._head = head or self.repo.head
        self._moves = moves  # (old head, new head) -> what changed, or None: list again
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, str], Document] = {}  # (blob, path) -> parse
        self._tree = _Tree("", {}, _layout(()))

    # -- the tree at HEAD -----------------------------------------------------------------
    def _current(self) -> _Tree:
        tree, head = self._tree, self._head()
        if head == tree.head:
            return tree
        with self._lock:
            tree = self._tree
            if head != tree.head:
                self._tree = tree = self._moved(tree, head)
        return tree

    def _moved(self, old: _Tree, head: str) -> _Tree:
        move = self._moves(old.head, head) if self._moves is not None and old.head else None
        if move is None:
            files = gittree.files(self.repo, head)
            return _Tree(head, files, _layout(files))
        files = dict(old.files)
        for path in move.paths:
            files.pop(path, None)
        files.update(gittree.files(self.repo, head, sorted(move.paths)))
        tree = _Tree(head, files, _layout(files))
        if old.catalogue is not None and tree.folders == old.folders:
            tree.catalogue = self._patch(old.catalogue, tree, move.paths)
        return tree

    def folders(self) -> dict[str, str]:
        """Kind -> folder in the committed tree ('' for a plain handbook)."""
        return self._current().folders

    def rel_for(self, kind: str, slug: str) -> str | None:
        """The repository path that would hold (kind, slug), or None when not allowed."""
        return _rel(self.folders(), kind, slug)

    def locate(self, rel: str) -> tuple[str, str] | None:
        """(kind, slug) of a path relative to the root, or None when it is not served."""
        return _located(self.folders(), rel)

    def committed(self, rel: str) -> bytes | None:
        """The bytes of the regular file ``rel`` at HEAD (None when there is none)."""
        entry = self._current().files.get(rel)
        if entry is None or not entry.is_file:
            return None
        return gittree.read(self.repo, [entry.blob]).get(entry.blob)

    def blob_of(self, rel: str) -> str:
        """The blob id of the regular file ``rel`` at HEAD ('' when there is none)."""
        entry = self._current().files.get(rel)
        return entry.blob if entry is not None and entry.is_file else ""

    # -- documents --------------------------------------------------------------------------
    def get(self, kind: str, slug: str) -> Document | None:
        tree = self._current()
        rel = _rel(tree.folders, kind, slug)
        if rel is None:
            return None
        return self._documents(tree.files, [(kind, slug, rel)]).get(rel)

    def _documents(self, files: dict[str, gittree.Entry],
                   wanted: Iterable[tuple[str, str, str]]) -> dict[str, Document]:
        """Path -> document for (kind, slug, path) triples; symlinks and submodules are not
        documents.  Blobs not parsed before are read in one batch."""
        found: dict[str, Document] = {}
        missing: list[tuple[str, str, str, str]] = []
        for kind, slug, rel in wanted:
            entry = files.get(rel)
            if entry is None or not entry.is_file:
                continue
            doc = self._parsed.get((entry.blob, rel))
            if doc is not None and (doc.kind, doc.slug) == (kind, slug):
                found[rel] = doc
            else:
                missing.append((kind, slug, rel, entry.blob))
        data = gittree.read(self.repo, [blob for *_, blob in missing]) if missing else {}
        for kind, slug, rel, blob in missing:
            if blob in data:
                found[rel] = self._parsed[(blob, rel)] = _parse(data[blob], kind, slug, rel)
        return found

    def all(self) -> list[Document]:
        """Every document at HEAD, sorted by kind then title.  Cheap when nothing changed."""
        tree = self._current()
        if tree.catalogue is None:
            with self._lock:
                if tree.catalogue is None:
                    tree.catalogue = self._scan(tree)
        return tree.catalogue

    def snapshot(self, head: str) -> list[Document]:
        """The documents of the tree at commit ``head``, sorted as ``all()`` is.

        Whoever records "this reflects commit H" (the search index) builds from
        ``snapshot(H)``, so what it holds is exactly H's text whatever HEAD is by then.
        """
        tree = self._current()
        if head == tree.head:
            return self.all()
        files = gittree.files(self.repo, head)
        return self._scan(_Tree(head, files, _layout(files)), forget=False)

    def documents_at(self, head: str, paths: Iterable[str]) -> dict[str, Document]:
        """Path -> document at commit ``head`` for those of ``paths`` that are documents
        there: what a few commits changed, without parsing the rest of the tree (a worker
        that has not read the whole catalogue yet still updates the index in milliseconds)."""
        tree = self._current()
        if head != tree.head:
            files = gittree.files(self.repo, head)
            tree = _Tree(head, files, _layout(files))
        wanted = [(*located, rel) for rel in paths
                  if (located := _located(tree.folders, rel)) is not None]
        return self._documents(tree.files, wanted)

    def _scan(self, tree: _Tree, *, forget: bool = True) -> list[Document]:
        wanted = [(*located, rel) for rel in tree.files
                  if (located := _located(tree.folders, rel)) is not None]
        docs = list(self._documents(tree.files, wanted).values())
        docs.sort(key=_catalogue_order)
        if forget:  # parses of blobs no longer at HEAD
            keep = {(tree.files[d.path].blob, d.path) for d in docs}
            for key in [k for k in list(self._parsed) if k not in keep]:  # one C-level copy
                self._parsed.pop(key, None)
        return docs

    def _patch(self, catalogue: list[Document], tree: _Tree, paths: Iterable[str]
               ) -> list[Document]:
        """``catalogue`` with ``paths`` (relative to the root) looked up again in ``tree``."""
        changed = set(paths)
        docs = [d for d in catalogue if d.path not in changed]
        wanted = [(*located, rel) for rel in changed
                  if (located := _located(tree.folders, rel)) is not None]
        for doc in self._documents(tree.files, wanted).values():
            bisect.insort(docs, doc, key=_catalogue_order)
        return docs

    def unsafe_files(self) -> list[str]:
        """Markdown files at HEAD that cannot be served (reported by ``kb check``): names
        outside the allow-list, and symlinks (a link is never followed)."""
        tree = self._current()
        bad = []
        for rel, entry in tree.files.items():
            if not rel.endswith(".md") or rel.startswith("."):
                continue
            for folder in tree.folders.values():
                inside = rel[len(folder) + 1:] if folder else rel
                if folder and not rel.startswith(folder + "/"):
                    continue
                if any(part.startswith(".") for part in inside.split("/")):
                    continue
                if not entry.is_file or not is_safe_slug(inside[:-3]):
                    bad.append(rel)
        return sorted(set(bad))

    def uncommitted(self) -> list[str]:
        """Files of the work tree that differ from HEAD: not served until committed."""
        return gittree.uncommitted(self.repo)


def _parse(data: bytes, kind: str, slug: str, rel: str) -> Document:
    if len(data) > MAX_BYTES:
        doc = parse(b"", kind=kind, slug=slug, path=rel)
        doc.problems.append(Problem(rel, None, f"file is {len(data):,} bytes; the limit is "
                                               f"{MAX_BYTES:,}"))
        doc.audience = "internal"
        return doc
    return parse(data, kind=kind, slug=slug, path=rel)


def init_app(app) -> None:
    """Attach the content store (and its git repository) to ``app``."""
    repo = GitRepo(app.config["KB_CONTENT_DIR"])
    repo.moves.shared = Path(app.config["KB_DATA_DIR"]) / "moves"  # saves tell other workers
    repo.moves.key = sharedfiles.signing_key(app.config["SECRET_KEY"], "head moves")
    repo.head_memo = _request_memo
    app.extensions["kb_repo"] = repo
    app.extensions["kb_store"] = ContentStore(repo.root, repo=repo, moves=repo.moves.between)


def _request_memo() -> dict | None:
    """A GET request reads HEAD once (an agent's page asked for it seven times), again only
    after it ran git; a request that may write (POST) reads it afresh each time."""
    if has_request_context() and request.method in ("GET", "HEAD"):
        return vars(g)
    return None


def document_at(section: str, slug: str) -> Document | None:
    """The document at ``/<section>/<slug>``, or None (unknown section, unsafe slug, missing)."""
    kind = SECTIONS.get(section)
    return store().get(kind, slug) if kind else None


def store() -> ContentStore:
    return current_app.extensions["kb_store"]


def repo() -> GitRepo:
    return current_app.extensions["kb_repo"]
