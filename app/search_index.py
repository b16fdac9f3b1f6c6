"""The search index: schema, records, the single writer, builds and incremental updates.

Two Whoosh indexes live under ``KB_DATA_DIR/index/``: ``public`` holds only the public
projection of public documents, ``staff`` the staff projection of every document.  A public
search can therefore never match, count, quote or suggest internal text: it is not there.

Each document gives one record for its top (title, tags, summary, text before the first
``##``) and one record per ``##`` section (so a hit can link to ``/policies/<slug>#sec-id``).
Text is indexed once, so "all words" means all words in one place: the title plus one
section (the OR fallback covers words spread over several sections).

The index is a cache of the content work tree: ``STATE_FILE`` records the git HEAD it
reflects; when HEAD moves, the changed files are re-indexed.  Every write goes through
``locked()`` (an fcntl lock), so gunicorn workers never collide and never lose an update.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from whoosh import index as windex
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemmingAnalyzer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from .audience import PUBLIC, STAFF, Viewer, project
from .content import ContentStore, Document
from .render import section_id, without_title

log = logging.getLogger(__name__)

AUDIENCES = {"public": PUBLIC, "staff": STAFF}
STATE_FILE = "STATE"  # "<git head> <build id>": readers reopen when it changes
LOCK_FILE = "write.lock"
LOCK_TIMEOUT = 120.0
TITLE_WEIGHT, HEADING_WEIGHT = 3, 2  # a full build of 10,000 documents takes well under this

ANALYZER = StemmingAnalyzer()
# Query words before stemming (typo correction works on stems, suggestions on words).
WORD_ANALYZER = RegexTokenizer() | LowercaseFilter()

_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE_RE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP_RE = re.compile(r"<[^>]{0,200}>|[*_`]+|^!!!.*$|^[ \t]*[:|>-]+[ \t]*", re.M)


def make_schema() -> Schema:
    return Schema(
        id=ID(unique=True, stored=True),       # path or path#section-id
        path=ID(stored=True),                  # every record of one file, for deletes
        rec=ID,                                # "doc" (top of the page) or "sec"
        kind=ID(stored=True),
        audience=ID(stored=True),
        url=STORED,                            # /policies/slug[#sec-id]
        doc_title=STORED,
        section=STORED,                        # heading text ("" for the document record)
        text=STORED,                           # plain text of the section, for snippets
        updated=STORED,
        # One searchable text field keeps every query a single posting-list walk (Whoosh is
        # pure Python: three fields per word tripled the cost).  Title and heading weigh
        # more because they are repeated in it (see ``_content``).
        content=TEXT(analyzer=ANALYZER),
        tags=KEYWORD(commas=True, lowercase=True, stored=True, scorable=True),
    )


# -- documents -> records --------------------------------------------------------------------
def plain(markdown: str) -> str:
    """Markdown reduced to words for indexing and snippets (links keep their text)."""
    return _MARKUP_RE.sub(" ", _LINK_RE.sub(r"\1", markdown))


def heading_text(raw: str) -> str:
    """A heading as the renderer's toc sees it: inline markup removed."""
    return re.sub(r"\s+", " ", plain(raw)).strip()


@dataclass
class Section:
    id: str
    heading: str
    text: str


def split_sections(body: str) -> tuple[str, list[Section]]:
    """(intro, sections) of a rendered-ready body.  Ids count every heading like the toc
    extension does; headings inside fenced code are text."""
    used: dict[str, int] = {}
    heads: list[tuple[str, str]] = []
    chunks: list[list[str]] = [[]]  # chunks[0] is the intro, chunks[i] follows heads[i-1]
    fence: str | None = None
    for line in body.splitlines():
        fence_match = _FENCE_RE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
        elif fence is None and (match := _HEADING_RE.match(line)):
            text = heading_text(match.group(2))
            sid = section_id(text, used)  # every level counts, as in the toc extension
            if len(match.group(1)) <= 2:
                heads.append((sid, text))
                chunks.append([])
                continue
        chunks[-1].append(line)
    sections = [Section(sid, text, plain("\n".join(lines)))
                for (sid, text), lines in zip(heads, chunks[1:], strict=True)]
    return plain("\n".join(chunks[0])), sections


def records(doc: Document, viewer: Viewer) -> list[dict]:
    """Index records of ``doc`` as ``viewer`` may see it (none when it must not exist)."""
    if not viewer.sees_internal and doc.effective is not None:
        doc = _in_force(doc)
        if doc is None:
            return []
    shown = project(doc, viewer=viewer)
    if shown is None:
        return []
    body = without_title(shown.body, shown.title)
    intro, sections = split_sections(body)
    common = {"path": doc.path, "kind": doc.kind, "audience": shown.audience,
              "doc_title": shown.title,
              "tags": ",".join(shown.tags),
              "updated": shown.effective.isoformat() if shown.effective else ""}
    # One record per place a reader can land: the top of the page (title, summary, intro)
    # and each section.  Text is indexed once; a section record also carries the title so
    # "refund window" finds the "Window" section of "Refunds".
    out = [{**common, "id": doc.path, "rec": "doc", "url": shown.url, "section": "",
            "text": (shown.summary + "\n" + intro).strip()[:4000],
            "content": _content(shown.title, "", f"{shown.summary}\n{intro}")}]
    for sec in sections:
        out.append({**common, "id": f"{doc.path}#{sec.id}", "rec": "sec",
                    "url": f"{shown.url}#{sec.id}", "section": sec.heading,
                    "text": sec.text[:8000],
                    "content": _content(shown.title, sec.heading, sec.text)})
    return out


def _in_force(doc: Document) -> Document | None:
    """The version the public may read today: an upcoming text (``effective`` after today)
    must not be searchable before its date.  Without an app (a forked builder) the version
    in force cannot be looked up, so such a document is left out of the public index."""
    from flask import has_app_context

    from .history import in_force, today

    if doc.effective <= (today() if has_app_context() else _dt.date.today()):
        return doc
    return in_force(doc)[1] if has_app_context() else None


def _content(title: str, heading: str, body: str) -> str:
    """The searchable text: title x3 and heading x2 weigh more in BM25 than body words."""
    return "\n".join([title] * TITLE_WEIGHT + [heading] * HEADING_WEIGHT + [body])


# -- locking and state -----------------------------------------------------------------------
class IndexBusy(RuntimeError):
    """Another process held the write lock for longer than the timeout."""


@contextlib.contextmanager
def locked(root: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """The one way to write: an exclusive fcntl lock shared by every worker and CLI."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IndexBusy(f"search index locked for over {timeout:.0f} s") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_state(root: Path) -> tuple[str, str] | None:
    """(head, build id) of the index, or None when there is no complete index."""
    try:
        head, build = (root / STATE_FILE).read_text().split()
    except (OSError, ValueError):
        return None
    return ("" if head == "-" else head), build


def write_state(root: Path, head: str, build: str | None = None) -> None:
    build = build or uuid.uuid4().hex[:12]
    tmp = root / f".{STATE_FILE}.tmp"
    tmp.write_text(f"{head or '-'} {build}\n")
    os.replace(tmp, root / STATE_FILE)  # atomic: readers see the old or the new state


def is_healthy(root: Path) -> bool:
    """True when both indexes open and a state file says what they reflect."""
    if read_state(root) is None:
        return False
    try:
        for name in AUDIENCES:
            with windex.open_dir(str(root / name)).searcher() as searcher:
                searcher.doc_count()
    except Exception:  # any Whoosh or OS error means the cache is unusable
        return False
    return True


# -- full build ------------------------------------------------------------------------------
def _build_one(args: tuple[str, str, str, list[str]]) -> int:
    """Build one audience's index from the given files (runs in its own process)."""
    root, name, content_root, paths = args
    target = Path(root) / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    ix = windex.create_in(str(target), make_schema())
    st = ContentStore(content_root)
    writer = ix.writer(limitmb=256)
    count = 0
    for doc in _docs(st, paths):
        for rec in records(doc, AUDIENCES[name]):
            writer.add_document(**rec)
            count += 1
        if _done is not None:
            with _done.get_lock():
                _done.value += 1
    writer.commit()
    return count


_done = None  # documents processed, shared with forked builders (for the progress bar)


def _docs(st: ContentStore, paths: Iterable[str]) -> Iterator[Document]:
    by_path = {d.path: d for d in st.all()}
    for path in paths:
        if path in by_path:
            yield by_path[path]


def build(root: Path, st: ContentStore, head: str,
          progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Rebuild both indexes from the work tree (in parallel, one process per audience).

    The caller holds ``locked(root)``.  The new indexes are written next to the old ones and
    then swapped in, so searches keep working during a rebuild.
    """
    # A fresh scan: the app's catalogue cache must not go stale because we looked early.
    paths = [d.path for d in ContentStore(st.root).all()]
    tmp = root / f".build-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    counts: dict[str, int] = {}
    try:
        jobs = [(str(tmp), name, str(st.root), paths) for name in AUDIENCES]
        global _done
        ctx = get_context("fork")
        _done = ctx.Value("l", 0)
        reported = 0

        def report() -> None:
            nonlocal reported
            done = _done.value // len(AUDIENCES)  # each document is indexed once per audience
            if progress and done > reported:
                progress(done - reported)
                reported = done

        if len(paths) > 200 and (os.cpu_count() or 1) > 1:
            with ctx.Pool(len(jobs)) as pool:
                results = pool.map_async(_build_one, jobs)
                while not results.ready():
                    results.wait(0.2)
                    report()
                counts = dict(zip(AUDIENCES, results.get(), strict=True))
        else:
            counts = {name: _build_one(job) for name, job in zip(AUDIENCES, jobs, strict=True)}
        report()
        _done = None
        for name in AUDIENCES:
            old = root / f".old-{name}-{uuid.uuid4().hex[:6]}"
            if (root / name).exists():
                os.replace(root / name, old)
            os.replace(tmp / name, root / name)
            shutil.rmtree(old, ignore_errors=True)
        write_state(root, head)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return counts


# -- incremental update ----------------------------------------------------------------------
def update(root: Path, st: ContentStore, paths: Iterable[str], head: str) -> int:
    """Re-index ``paths`` (deleted, renamed or edited files) in both indexes; lock held by
    the caller.  A document that turned internal simply yields no public records."""
    paths = sorted(set(paths))
    changed = 0
    for name, viewer in AUDIENCES.items():
        ix = windex.open_dir(str(root / name))
        writer = ix.writer(timeout=5.0)
        try:
            for path in paths:
                writer.delete_by_term("path", path)
                doc = _load(st, path)
                for rec in records(doc, viewer) if doc else []:
                    writer.add_document(**rec)
                    changed += 1
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
    write_state(root, head)
    return changed


def _load(st: ContentStore, path: str) -> Document | None:
    """The document stored at ``path`` (content-relative), if it is one the portal serves."""
    for kind, folder in st.folders().items():
        prefix = f"{folder}/" if folder else ""
        if path.startswith(prefix) and path.endswith(".md"):
            doc = st.get(kind, path[len(prefix):-3])
            if doc is not None:
                return doc
    return None
