"""The search index: schema, records, the single writer, state and incremental updates.

Two tantivy indexes live under ``KB_DATA_DIR/index/``: ``public`` holds only the public
projection of public documents (the version in force today), ``staff`` the staff projection
of every document.  A public search can therefore never match, count, quote or suggest
internal text: it is not there.

Each document gives two kinds of record (field ``level``):

- ``place``: one for the top of the page (title, summary, front-matter keywords, tags and
  aliases, the words of the file's name, the text before the first ``##``) and one per
  ``##`` section (with the page title), so a hit can land on ``/policies/<slug>#sec-id``;
- ``doc``: the whole document in one record, so words spread over several sections still
  count together, plus the document's words unstemmed (``words``: completions and typos).

The index is a cache of the committed content: ``STATE_FILE`` records the commit it
reflects, and its records are built from that commit's tree (``ContentStore.snapshot``);
when HEAD moves, the changed files are re-indexed.  Every write goes through
``locked()`` (an fcntl lock shared by every worker and the CLI), so there is one writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import itertools
import math
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _json_str
from pathlib import Path
from typing import NamedTuple

import tantivy

from app.content.audience import PUBLIC, STAFF, Viewer, project
from app.content.document import Document
from app.content.mdlines import with_code_flags
from app.content.render import section_id, without_title
from app.history.in_force import InForce, earliest
from app.locks import exclusive
from app.search.analysis import LEXICON, STEMMED, register

AUDIENCES = {"public": PUBLIC, "staff": STAFF}
STATE_FILE = "STATE"  # "<git head> <build id> <due date> <format>": readers reopen on change
FORMAT = "tantivy-3"  # of the records and schema: an index of another format is rebuilt
LOCK_FILE = "write.lock"
LOCK_TIMEOUT = 120.0
UPDATE_HEAP = 32_000_000  # bytes of tantivy writer memory for an incremental update
TEXT_FIELDS = ("title", "heading", "meta", "body")
# Front-matter fields whose words describe the page (real handbooks use them).
FRONT_WORDS = ("keywords", "aliases", "subtitle", "description")

_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# Tags, Jekyll/Liquid shortcodes, emphasis, admonition types (their titles are text), and
# the markers of lists, tables, quotes and ``:::`` blocks.
_MARKUP_RE = re.compile(r"<[^>]{0,200}>|\{%.{0,300}?%\}|[*_`]+|^[!?]{3}[ \t]*[\w-]+"
                        r"|^[ \t]*[:|>-]+[ \t]*", re.M)
# The same in two passes, which Python's regex engine runs in two thirds of the time: the
# pattern above tries its line-start branches at every position, where these find line
# starts as "\n".  Equivalent when the text holds no "<": only a tag can run across a
# line start (see ``plain``).
_LINE_MARKUP_NL_RE = re.compile(r"\n(?:[!?]{3}[ \t]*[\w-]+|[ \t]*[:|>-]+[ \t]*)")
_INLINE_MARKUP_RE = re.compile(r"\{%.{0,300}?%\}|[*_`]+")


def make_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("path", stored=True, tokenizer_name="raw")  # grouping and deletes
    sb.add_text_field("level", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("kind", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("tags", tokenizer_name="raw", index_option="basic")
    for name in TEXT_FIELDS:
        sb.add_text_field(name, tokenizer_name=STEMMED)
    sb.add_text_field("words", tokenizer_name=LEXICON, index_option="basic")
    sb.add_bytes_field("data", stored=True)  # what a result shows, as JSON
    # The document's number (``docno``), read from a column: ranking groups places by
    # document and decodes stored records only for the documents it shows.
    sb.add_unsigned_field("docno", indexed=True, fast=True)
    return sb.build()


SCHEMA = make_schema()


# -- documents -> records --------------------------------------------------------------------
def docno(path: str) -> int:
    """A document's number in the index: 64 bits of a hash of its path (unique in
    practice; a collision would merge two documents' places, nothing worse)."""
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "big")


def plain(markdown: str) -> str:
    """Markdown reduced to words for indexing and snippets (links keep their text)."""
    if "](" in markdown:
        markdown = _LINK_RE.sub(r"\1", markdown)
    if "<" in markdown:
        return _MARKUP_RE.sub(" ", markdown)
    # No tag: the branches of ``_MARKUP_RE`` start with different characters and no
    # match crosses a line start, so line-start markup then inline markup gives the same.
    # Line starts are found as "\n" (with one put in front of the text), which the regex
    # engine searches for quickly, rather than ``^`` tried at every position; the inline
    # pattern runs only on text holding one of its characters (most sections hold none).
    text = _LINE_MARKUP_NL_RE.sub("\n ", "\n" + markdown)[1:]
    if "*" in text or "_" in text or "`" in text or "{%" in text:
        text = _INLINE_MARKUP_RE.sub(" ", text)
    return text


@functools.lru_cache(maxsize=4096)
def heading_text(raw: str) -> str:
    """A heading as the renderer's toc sees it: inline markup removed.  Remembered: most
    pages share their headings ("Scope", "Procedure")."""
    return re.sub(r"\s+", " ", plain(raw)).strip()


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    text: str


@functools.lru_cache(maxsize=256)
def split_sections(body: str) -> tuple[str, list[Section], list[str]]:
    """(intro, ``##`` sections, every heading) of a body.  Ids count every heading like
    the toc extension does; headings inside fenced code are text.  Remembered for a while:
    the public and staff projections of most documents are the same text."""
    used: dict[str, int] = {}
    heads: list[tuple[str, str]] = []
    every: list[str] = []
    chunks: list[list[str]] = [[]]  # chunks[0] is the intro, chunks[i] follows heads[i-1]
    lines = body.splitlines()
    # A fence needs three backticks or tildes: without them no line is code, as
    # ``with_code_flags`` would find line by line.  Only a line starting with "#" can be a
    # heading.
    flagged = (with_code_flags(lines) if "```" in body or "~~~" in body
               else zip(lines, itertools.repeat(False)))
    for line, code in flagged:
        if line[:1] == "#" and not code and (match := _HEADING_RE.match(line)):
            text = heading_text(match.group(2))
            sid = section_id(text, used)  # every level counts, as in the toc extension
            every.append(text)
            if len(match.group(1)) <= 2:
                heads.append((sid, text))
                chunks.append([])
                continue
        chunks[-1].append(line)
    sections = [Section(sid, text, plain("\n".join(lines)))
                for (sid, text), lines in zip(heads, chunks[1:], strict=True)]
    return plain("\n".join(chunks[0])), sections, every


def slug_words(path: str) -> str:
    """The words of a file's name ("refund-after-30-days.md" -> "refund after 30 days"):
    a page's address names its subject, often in other words than its title."""
    return re.sub(r"[_.-]+", " ", path.rsplit("/", 1)[-1].removesuffix(".md"))


def _front(meta: dict, name: str) -> str:
    value = meta.get(name)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ; ".join(str(v) for v in value if isinstance(v, str | int | float))
    return ""


class Shown(NamedTuple):
    """Everything a document's records are made of, as one viewer may see it.  Records
    depend on nothing else, so two equal ``Shown`` give equal records: a full build makes
    them once for both indexes when the public and the staff view are the same."""

    path: str
    kind: str
    url: str
    title: str
    body: str  # projected, without the title line
    summary: str
    audience: str
    tags: tuple[str, ...]
    front: str  # the words of ``FRONT_WORDS`` the viewer may see


def shown_to(doc: Document, viewer: Viewer) -> Shown | None:
    """``doc`` as ``viewer`` may see it, reduced to what its records hold (None when it
    must not exist for them)."""
    shown = project(doc, viewer=viewer)
    if shown is None:
        return None
    front = " ; ".join(t for t in (_front(shown.meta, n) for n in FRONT_WORDS) if t)
    return Shown(doc.path, doc.kind, shown.url, shown.title,
                 without_title(shown.body, shown.title), shown.summary, shown.audience,
                 tuple(shown.tags), front)


def records(doc: Document, viewer: Viewer) -> list[dict]:
    """Index records of ``doc`` as ``viewer`` may see it (none when it must not exist).

    For the public index, callers pass the version in force today (``in_force``)."""
    shown = shown_to(doc, viewer)
    return [] if shown is None else records_of(shown)


def records_of(shown: Shown) -> list[dict]:
    """The records of one document view (see ``Shown``)."""
    intro, sections, headings = split_sections(shown.body)
    tags = [t.lower() for t in shown.tags]
    meta = " ; ".join(t for t in (shown.summary, shown.front, " ; ".join(shown.tags),
                                  slug_words(shown.path)) if t)
    top_text = (shown.summary + "\n" + intro).strip()
    number = docno(shown.path)
    path, kind = shown.path, shown.kind
    # ``data`` is what ``json.dumps`` makes of {"id", "url", "doc_title", "section",
    # "text", "kind", "audience"} (all strings), written out: the same bytes in a third of
    # the time, and the parts every record of the page shares encoded once.
    title_json = ', "doc_title": ' + _json_str(shown.title) + ', "section": '
    tail_json = ', "kind": ' + _json_str(kind) + ', "audience": ' + _json_str(shown.audience) + "}"

    def record(level: str, rid: str, url: str, section: str, text: str, **fields) -> dict:
        data = ('{"id": ' + _json_str(rid) + ', "url": ' + _json_str(url) + title_json
                + _json_str(section) + ', "text": ' + _json_str(text) + tail_json)
        return {"path": path, "docno": number, "level": level, "kind": kind, "tags": tags,
                "data": data.encode(), **fields}

    whole = "\n".join([intro, *(f"{s.heading}\n{s.text}" for s in sections)])
    out = [record("doc", path, shown.url, "", top_text[:4000], title=shown.title,
                  meta=meta, heading="\n".join(headings), body=whole,
                  words="\n".join([shown.title, meta, *headings, whole])),
           record("place", path, shown.url, "", top_text[:4000], title=shown.title,
                  meta=meta, body=intro)]
    for sec in sections:
        out.append(record("place", f"{path}#{sec.id}", f"{shown.url}#{sec.id}",
                          sec.heading, sec.text[:8000], title=shown.title,
                          heading=sec.heading, body=sec.text))
    return out


def add(writer: tantivy.IndexWriter, recs: list[dict]) -> int:
    for rec in recs:
        writer.add_document(tantivy.Document.from_dict(rec, SCHEMA))
    return len(recs)


# -- locking, state, opening -----------------------------------------------------------------
class IndexBusy(RuntimeError):
    """Another process held the write lock for longer than the timeout."""


@contextlib.contextmanager
def locked(root: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """The one way to write: an exclusive fcntl lock shared by every worker and CLI."""
    root.mkdir(parents=True, exist_ok=True)
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
        head, build, due, kind = (root / STATE_FILE).read_text().split()
        if kind != FORMAT:
            return None
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
    tmp.write_text(f"{head or '-'} {build} {due.isoformat() if due else '-'} {FORMAT}\n")
    os.replace(tmp, root / STATE_FILE)  # atomic: readers see the old or the new state


def open_index(path: Path) -> tantivy.Index:
    return register(tantivy.Index.open(str(path)))


def is_healthy(root: Path) -> bool:
    """True when both indexes open and a state file says what they reflect."""
    if read_state(root) is None:
        return False
    try:
        for name in AUDIENCES:
            searcher = open_index(root / name).searcher()
            searcher.search(tantivy.Query.term_query(SCHEMA, "level", "doc"), 1)
    except Exception:  # any tantivy or OS error means the cache is unusable
        return False
    return True


# -- incremental update ----------------------------------------------------------------------
def update(root: Path, changed: dict[str, Document | None], head: str, dates: InForce,
           due: dt.date | None, audiences: Iterable[str] = tuple(AUDIENCES)) -> int:
    """Re-index the files ``changed`` names (a document, or None for a deleted or unserved
    file) in ``audiences``; the caller holds ``locked(root)``.  A document that turned
    internal simply yields no public records; the public index gets the version in force
    (``dates``).  ``due`` is the next effective date of the documents not re-indexed."""
    added = 0
    for name in audiences:
        viewer = AUDIENCES[name]
        writer = open_index(root / name).writer(heap_size=UPDATE_HEAP, num_threads=1)
        try:
            for path in sorted(changed):
                writer.delete_documents_by_term("path", path)
                doc = changed[path]
                if doc is not None and viewer is PUBLIC:
                    doc = dates.public_version(doc)
                added += add(writer, records(doc, viewer) if doc else [])
            writer.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.rollback()
            raise
        finally:
            # Releases tantivy's own writer lock at once (the writer object might live on
            # in a traceback), after its merges.
            with contextlib.suppress(Exception):
                writer.wait_merging_threads()
    write_state(root, head, earliest(due, dates.due))
    return added
