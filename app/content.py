"""Content loading: find documents in the content work tree and parse their front matter.

A document is a Markdown file with optional YAML front matter.  Files under ``policies/`` are
policies and files under ``faq/`` are FAQ entries; the slug is the path inside that folder
without ``.md``.  A repository with neither folder (a plain handbook) is served as policies,
slug = path from the root.  Nothing here decides who may read what: see ``audience.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

try:  # libyaml is ten times faster on a 10,000-document catalogue
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader

KINDS = {"policy": "policies", "faq": "faq"}  # kind -> folder and URL segment
SECTIONS = {section: kind for kind, section in KINDS.items()}
AUDIENCES = ("public", "internal")
META_FIELDS = ("title", "summary", "audience", "owner", "tags", "effective", "review_by")
MAX_BYTES = 1_000_000  # larger files are refused: nobody reads a 5 MB policy mid-call

# One path segment: letters, digits, dot, dash, underscore; never starting with a dot, so
# "..", ".git" and hidden files can never be named.  Checked before any filesystem access.
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}"
SLUG_RE = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT}){{0,7}}$")
FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)",
                              re.S | re.M)
_H1_RE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)


def is_safe_slug(slug: str) -> bool:
    """True when ``slug`` may name a document (allow-list; also rejects ``..`` and NUL)."""
    return bool(SLUG_RE.fullmatch(slug)) and not slug.endswith(".md")


@dataclass(frozen=True)
class Problem:
    """Something wrong with a document, reported by ``kb check`` and shown to editors."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class Document:
    """One Markdown document as stored; ``body`` still holds its internal blocks."""

    kind: str
    slug: str
    path: str  # relative to the content root, with forward slashes
    title: str
    body: str
    audience: str = "internal"
    summary: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    effective: dt.date | None = None
    review_by: dt.date | None = None
    meta: dict = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    mtime: float = 0.0
    body_start: int = 1  # file line where the body begins (after front matter)

    @property
    def section(self) -> str:
        """The URL segment of this kind: ``policies`` or ``faq``."""
        return KINDS[self.kind]

    @property
    def url(self) -> str:
        return f"/{self.section}/{self.slug}"

    @property
    def is_public(self) -> bool:
        return self.audience == "public"


def _field_line(front: str, name: str) -> int:
    """File line of ``name:`` in the front matter (1 when it cannot be found)."""
    match = re.search(rf"^{re.escape(name)}\s*:", front, re.M)
    return front.count("\n", 0, match.start()) + 2 if match else 1


def _as_date(value, name: str, path: str, problems: list[Problem], front: str = ""
             ) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        problems.append(Problem(path, _field_line(front, name),
                                f"{name} must be a date like 2026-03-01, not {value!r}"))
        return None


def _title_from(body: str, path: str) -> str:
    match = _H1_RE.search(body)
    if match:
        return match.group(1).strip()
    return Path(path).stem.replace("-", " ").replace("_", " ").strip().capitalize() or path


def parse(text: str | bytes, *, kind: str, slug: str, path: str) -> Document:
    """Parse one file.  Never raises: what is wrong lands in ``Document.problems``.

    A document whose front matter cannot be read is treated as internal, so a typo in
    ``audience: public`` can hide a page but never expose one.
    """
    problems: list[Problem] = []
    if isinstance(text, bytes):
        if b"\x00" in text[:8192]:
            problems.append(Problem(path, None, "binary file, not Markdown text"))
            text = ""
        else:
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = text[: exc.start].count(b"\n") + 1
                problems.append(Problem(path, line, "not valid UTF-8 text"))
                text = text.decode("utf-8", "replace")
    meta: dict = {}
    body = text
    front = ""
    body_start = 1
    match = FRONT_MATTER_RE.match(text)
    if match:
        body = text[match.end():]
        body_start = text.count("\n", 0, match.end()) + 1
        front = match.group(1)
        try:
            loaded = yaml.load(match.group(1), Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark else 1  # +1 for 0-based, +1 for the opening ---
            reason = getattr(exc, "problem", None) or "invalid YAML"
            problems.append(Problem(path, line, f"front matter is not valid YAML: {reason}"))
            loaded = {}
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            problems.append(Problem(path, 2, "front matter must be a mapping of field: value"))
            loaded = {}
        meta = loaded
    elif text.startswith("---\n"):
        problems.append(Problem(path, 1, "front matter starts with --- but is never closed"))

    audience = meta.get("audience", "internal")
    if audience not in AUDIENCES:
        problems.append(Problem(path, _field_line(front, "audience"),
                                f"audience must be public or internal, not {audience!r}"))
        audience = "internal"
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    if not isinstance(tags, list):
        problems.append(Problem(path, _field_line(front, "tags"), "tags must be a list"))
        tags = []
    title = meta.get("title")
    if title is not None and not isinstance(title, str):
        title = str(title)
    doc = Document(
        kind=kind,
        slug=slug,
        path=path,
        title=(title or "").strip() or _title_from(body, path),
        body=body,
        audience=audience,
        summary=str(meta.get("summary") or "").strip(),
        owner=str(meta.get("owner") or "").strip(),
        tags=[str(t).strip().lower() for t in tags if str(t).strip()],
        effective=_as_date(meta.get("effective"), "effective", path, problems, front),
        review_by=_as_date(meta.get("review_by"), "review_by", path, problems, front),
        meta=meta,
        problems=problems,
        body_start=body_start,
    )
    if problems:
        doc.audience = "internal"  # broken metadata fails closed: hidden, never exposed
    return doc


def split_front_matter(text: str) -> tuple[str, str]:
    """Return (front matter YAML, body) of a source text; ('', text) when there is none."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return "", text
    return match.group(1), text[match.end():]


def compose(meta: dict, body: str) -> str:
    """Write a document back as front matter + body, fields in their documented order."""
    ordered = {k: meta[k] for k in META_FIELDS if meta.get(k) not in (None, "", [])}
    ordered.update({k: v for k, v in meta.items() if k not in ordered and v not in (None, "")})
    front = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return f"---\n{front}---\n{body.lstrip(chr(10))}"


class ContentStore:
    """The documents of one content root, cached by file modification time.

    Single documents are read per request (a ``stat`` checks freshness), so an edit shows at
    once.  The catalogue of all documents (lists, sitemap) is rescanned when the repository's
    HEAD moves, and every ``rescan_seconds`` for edits not yet committed; only changed files
    are parsed again (a warm rescan of 10,000 files takes a few tens of milliseconds).
    """

    def __init__(self, root: str | os.PathLike, *, rescan_seconds: float = 30.0,
                 head: callable | None = None):
        self.root = Path(root)
        self._real_root = self.root.resolve()
        self.rescan_seconds = rescan_seconds
        self._head = head or (lambda: "")
        self._lock = threading.Lock()
        self._parsed: dict[str, tuple[int, int, Document]] = {}
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
            if stat.S_ISLNK(st.st_mode) or not walked:
                if not Path(os.path.realpath(path)).is_relative_to(self._real_root):
                    return None  # a symlink must not reach outside the content root
                st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        cached = self._parsed.get(rel)
        if cached and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
            return cached[2]
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
        self._parsed[rel] = (st.st_mtime_ns, st.st_size, doc)
        return doc

    # -- catalogue --------------------------------------------------------------------------
    def all(self) -> list[Document]:
        """Every document, sorted by kind then title.  Cheap when nothing changed."""
        now = time.monotonic()
        head = self._head()
        if head == self._scanned_head and now - self._scanned_at < self.rescan_seconds:
            return self._catalogue
        with self._lock:
            if head != self._scanned_head or now - self._scanned_at >= self.rescan_seconds:
                self._catalogue = self._scan()
                self._scanned_head, self._scanned_at = head, time.monotonic()
        return self._catalogue

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
        docs.sort(key=lambda d: (d.kind != "policy", d.title.lower()))
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
    from .gitrepo import GitRepo

    repo = GitRepo(app.config["KB_CONTENT_DIR"])
    app.extensions["kb_repo"] = repo
    app.extensions["kb_store"] = ContentStore(repo.root, head=repo.head)


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
