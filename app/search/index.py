"""The search index: schema, records, the single writer, builds and incremental updates.

Two Whoosh indexes live under ``KB_DATA_DIR/index/``: ``public`` holds only the public
projection of public documents, ``staff`` the staff projection of every document.  A public
search can therefore never match, count, quote or suggest internal text: it is not there.

Each document gives one record for its top (title, tags, summary, text before the first
``##``) and one record per ``##`` section (so a hit can link to ``/policies/<slug>#sec-id``).
Text is indexed once, so "all words" means all words in one place: the title plus one
section (the OR fallback covers words spread over several sections).

The index is a cache of the committed content: ``STATE_FILE`` records the commit it
reflects, and its records are built from that commit's tree; when HEAD moves, the changed
files are re-indexed.  Every write goes through
``locked()`` (an fcntl lock), so gunicorn workers never collide and never lose an update.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from whoosh import index as windex
from whoosh.analysis import LowercaseFilter, RegexTokenizer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.writing import MERGE_SMALL

from app.content.audience import PUBLIC, STAFF, Viewer, project
from app.content.mdlines import with_code_flags
from app.content.render import section_id, without_title
from app.content.store import Document
from app.history.in_force import InForce, earliest
from app.locks import exclusive
from app.search.analysis import FastStemmingAnalyzer, SharedPositions
from app.search.scoring import live, postings

log = logging.getLogger(__name__)

AUDIENCES = {"public": PUBLIC, "staff": STAFF}
STATE_FILE = "STATE"  # "<git head> <build id> <due date>": readers reopen when it changes
LOCK_FILE = "write.lock"
LOCK_TIMEOUT = 120.0
MERGE_AT = 8  # segments per index before an update also merges the small ones
TITLE_WEIGHT, HEADING_WEIGHT = 3, 2  # a full build of 10,000 documents takes well under this

ANALYZER = FastStemmingAnalyzer()  # the terms of Whoosh's StemmingAnalyzer, faster
# Query words before stemming (typo correction works on stems, suggestions on words).
WORD_ANALYZER = RegexTokenizer() | LowercaseFilter()

_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP_RE = re.compile(r"<[^>]{0,200}>|[*_`]+|^!!!.*$|^[ \t]*[:|>-]+[ \t]*", re.M)


def make_schema() -> Schema:
    content = TEXT(analyzer=ANALYZER)
    content.format = SharedPositions()  # postings of a text shared by both indexes
    return Schema(
        id=STORED,                             # path or path#section-id
        path=ID(stored=True),                  # every record of one file, for deletes
        kind=ID(stored=True),
        audience=STORED,
        url=STORED,                            # /policies/slug[#sec-id]
        doc_title=STORED,
        section=STORED,                        # heading text ("" for the document record)
        text=STORED,                           # plain text of the section, for snippets
        updated=STORED,
        # One searchable text field keeps every query a single posting-list walk (Whoosh is
        # pure Python: three fields per word tripled the cost).  Title and heading weigh
        # more because they are repeated in it (see ``_content``).
        content=content,
        tags=KEYWORD(commas=True, lowercase=True, stored=True, scorable=True),
        digest=STORED,                         # of the whole record: an update keeps equals
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
    for line, code in with_code_flags(body.splitlines()):
        if not code and (match := _HEADING_RE.match(line)):
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
    """Index records of ``doc`` as ``viewer`` may see it (none when it must not exist).

    For the public index, callers pass the version in force today (``search_dates``).
    """
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
    out = [{**common, "id": doc.path, "url": shown.url, "section": "",
            "text": (shown.summary + "\n" + intro).strip()[:4000],
            "content": _content(shown.title, "", f"{shown.summary}\n{intro}")}]
    for sec in sections:
        out.append({**common, "id": f"{doc.path}#{sec.id}",
                    "url": f"{shown.url}#{sec.id}", "section": sec.heading,
                    "text": sec.text[:8000],
                    "content": _content(shown.title, sec.heading, sec.text)})
    for rec in out:
        rec["digest"] = _digest(rec)
    return out


def _digest(rec: dict) -> str:
    """Every field of a record (the unstored searchable text too), hashed."""
    data = "\0".join(f"{key}\1{rec[key]}" for key in sorted(rec))
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _content(title: str, heading: str, body: str) -> str:
    """The searchable text: title x3 and heading x2 weigh more in BM25 than body words."""
    return "\n".join([title] * TITLE_WEIGHT + [heading] * HEADING_WEIGHT + [body])


# -- locking and state -----------------------------------------------------------------------
class IndexBusy(RuntimeError):
    """Another process held the write lock for longer than the timeout."""


@contextlib.contextmanager
def locked(root: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """The one way to write: an exclusive fcntl lock shared by every worker and CLI."""
    with exclusive(root / LOCK_FILE, timeout=timeout, poll=0.02,
                   on_timeout=IndexBusy(f"search index locked for over {timeout:.0f} s")):
        yield


class State(NamedTuple):
    head: str  # the git HEAD the index reflects ("" for none)
    build: str  # changes with every write, so readers know to reopen
    due: dt.date | None  # the public index needs a look on this day (an effective date)


def read_state(root: Path) -> State | None:
    """What the index reflects, or None when there is no complete index."""
    try:
        head, build, due = (root / STATE_FILE).read_text().split()
        return State("" if head == "-" else head, build,
                     None if due == "-" else dt.date.fromisoformat(due))
    except (OSError, ValueError):
        return None


def written_ago(root: Path) -> float:
    """Seconds since the index was last written (by any process); infinite when unknown."""
    try:
        return max(0.0, time.time() - (root / STATE_FILE).stat().st_mtime)
    except OSError:
        return math.inf


def write_state(root: Path, head: str, due: dt.date | None) -> None:
    build = uuid.uuid4().hex[:12]
    tmp = root / f".{STATE_FILE}.tmp"
    tmp.write_text(f"{head or '-'} {build} {due.isoformat() if due else '-'}\n")
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


# -- incremental update ----------------------------------------------------------------------
def update(root: Path, at_head: Mapping[str, Document], paths: Iterable[str], head: str,
           dates: InForce, due: dt.date | None, audiences: Iterable[str] = tuple(AUDIENCES)
           ) -> int:
    """Re-index ``paths`` (deleted, renamed or edited files) in ``audiences``; lock held by
    the caller.  ``at_head`` holds the documents of commit ``head`` by path (from
    ``ContentStore.snapshot(head)``), so the index recorded as reflecting ``head`` holds
    exactly its text.  A document that turned internal simply yields no public records; the
    public index gets the version in force (``dates``, computed for these documents).
    ``due`` is the next effective date of the documents not re-indexed."""
    paths = sorted(set(paths))
    docs = {path: at_head.get(path) for path in paths}
    changed = 0
    for name in audiences:
        viewer = AUDIENCES[name]
        ix = windex.open_dir(str(root / name))
        if "digest" not in ix.schema:  # an index built before records had digests
            raise RuntimeError("search index predates record digests: rebuild it")
        writer = ix.writer(timeout=5.0)
        try:
            with writer.searcher() as current:
                for path in paths:
                    doc = docs[path]
                    if doc is not None and viewer is PUBLIC:
                        doc = dates.public_version(doc)
                    changed += _replace(writer, current, path,
                                        records(doc, viewer) if doc else [])
            writer.commit(mergetype=merge_when_many)
        except BaseException:
            writer.cancel()
            raise
    write_state(root, head, earliest(due, dates.due))
    return changed


def _replace(writer, current, path: str, fresh: list[dict]) -> int:
    """Make ``path``'s records ``fresh``, writing only those that changed.

    A save usually changes one section of a document: its other records stay where they
    are, so an index write costs a few records instead of the whole document.
    Returns the number of records added."""
    wanted = {rec["digest"]: rec for rec in fresh}
    for docnum in _live_records(current, path):
        if wanted.pop(current.stored_fields(docnum).get("digest"), None) is None:
            writer.delete_document(docnum)  # gone or changed
    for rec in wanted.values():
        writer.add_document(**rec)
    return len(wanted)


def _live_records(current, path: str) -> list[int]:
    """Record numbers of ``path``'s live records.  Each segment's postings of the path are
    remembered (``search_scoring``): a segment never changes once written, and asking
    Whoosh segment by segment cost more than the rest of a save's index write."""
    btext = path.encode("utf-8")
    found: list[int] = []
    for leaf, start in current.reader().leaf_readers():
        ids, _weights = postings(leaf, "path", btext)
        mask = live(leaf) if len(ids) else None
        if mask is not None:
            ids = ids[mask[ids]]
        found.extend(int(n) + start for n in ids)
    return found


def merge_when_many(writer, segments: list) -> list:
    """Whoosh's merge policy, applied only once ``MERGE_AT`` segments have piled up.

    Merging small segments on every update rewrote a small catalogue's whole index on every
    save; a few extra segments cost a search almost nothing (scoring reads each once)."""
    if len(segments) < MERGE_AT:
        return segments
    return MERGE_SMALL(writer, segments)
