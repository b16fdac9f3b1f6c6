"""From matching records to what an agent sees: grouped results with snippets and links.

Answers are computed afresh after every index write, so the pieces of an answer that depend
only on one record are remembered per worker and outlive the writes: a record's stored
fields (by segment: a segment never changes once written) and its snippet for a query's
words.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup
from whoosh import query as Q
from whoosh.searching import Searcher

from app.caching.lru import SizedLRU
from app.search.query import snippet
from app.search.scoring import segment_key, top

log = logging.getLogger(__name__)

SECTIONS_PER_DOC = 3
# Snippets by (record text, query stems), per worker.  Unlike answers they outlive index
# writes: a save renews every answer but changes the text of only a few records.
_SNIPPETS = SizedLRU(max_items=20_000, max_bytes=16 << 20, size_of=lambda v: v[2])
# Stored fields of records by (segment, record), per worker; see ``_stored``.
_STORED = SizedLRU(max_items=50_000, max_bytes=32 << 20,
                   size_of=lambda fields: 200 + sum(len(str(v)) for v in fields.values()))


def with_highlight(url: str, words: str) -> str:
    """``/policies/x?hl=words#sec-y``: the target page marks the words."""
    base, _, fragment = url.partition("#")
    query = f"?{urlencode({'hl': words})}" if words else ""
    return base + query + (f"#{fragment}" if fragment else "")


@dataclass
class Hit:
    title: str
    url: str
    section: str
    snippet: Markup
    link: str = ""


@dataclass
class Result:
    title: str
    url: str  # best place to land: the best matching section, else the document
    kind: str
    audience: str
    snippet: Markup
    highlight: str  # words to mark on the target page (?hl=)
    sections: list[Hit] = field(default_factory=list)

    @property
    def link(self) -> str:
        return with_highlight(self.url, self.highlight)


@dataclass
class Answer:
    query: str
    audience: str
    count: int = 0
    results: list[Result] = field(default_factory=list)
    suggestion: str | None = None
    fallback: bool = False  # True when no document had every word (any-word results)
    more: bool = False  # True when there may be more matching documents than ``count``


def answer_size(answer: Answer) -> int:
    return 500 + sum(len(r.snippet) + 300 + sum(len(h.snippet) + 200 for h in r.sections)
                     for r in answer.results)


def depth(limit: int) -> int:
    return limit * 5 + 20


def best_records(searcher: Searcher, query: Q.Query, limit: int, *, audience: str
                 ) -> tuple[list[dict], bool]:
    """The best records, best first, and whether more records matched than were fetched.

    Every matching record is scored (``search_scoring``), so the order is exact even for a
    word found on every page.  Array scoring reads Whoosh's segment files directly; should
    that ever fail (a format it does not know), Whoosh's own search answers instead.
    """
    try:
        docnums, total = top(searcher, query, depth(limit))
    except Exception:
        log.exception("array scoring failed; answering with Whoosh's own search")
        results = searcher.search(query, limit=depth(limit), terms=False)
        return [hit.fields() for hit in results], results.scored_length() < len(results)
    return _stored(searcher, docnums, audience), total > len(docnums)


def _stored(searcher: Searcher, docnums: list[int], audience: str) -> list[dict]:
    """The stored fields of records, remembered per segment: a segment never changes once
    written, so they outlive index writes (which add segments and mark deletions)."""
    leaves = searcher.reader().leaf_readers()  # [(segment reader, first record number)]
    starts = [start for _, start in leaves]
    found = []
    for docnum in docnums:
        leaf, start = leaves[bisect.bisect_right(starts, docnum) - 1]
        # Segment ids are random, and the audience is part of the key all the same: a record
        # of the staff index must never be taken for one of the public index.
        local = docnum - start
        found.append(_STORED.remember((audience, segment_key(leaf), local),
                                      lambda leaf=leaf, n=local: leaf.stored_fields(n)))
    return found


def _snippet(text: str, stems: frozenset[str]) -> tuple[Markup, frozenset[str]]:
    """``search_query.snippet``, remembered: the text and the stems decide it."""
    def make() -> tuple[Markup, frozenset[str], int]:
        marked, words = snippet(text, set(stems))
        return marked, frozenset(words), 2 * len(text) + len(marked) + 300

    marked, words, _size = _SNIPPETS.remember((text, stems), make)
    return marked, words


def result(recs: list[dict], stems: frozenset[str]) -> Result:
    """One document's hits as a result: best section first, then up to two more."""
    best = recs[0]  # the best-scoring place: a section, or the top of the page
    text, words = _snippet(best["text"], stems)
    marked = set(words) | _snippet(best["section"], stems)[1]  # heading words are marked too
    extra: list[Hit] = []
    for rec in [r for r in recs if r is not best and r["section"]]:
        if len(extra) >= SECTIONS_PER_DOC - 1:
            break
        extra_snippet, words = _snippet(rec["text"], stems)
        if not words:  # matched through the document title only: not worth a line
            continue
        marked |= words
        extra.append(Hit(rec["doc_title"], rec["url"], rec["section"], extra_snippet))
    hl = " ".join(sorted(marked)[:12])
    for hit in extra:
        hit.link = with_highlight(hit.url, hl)
    first = [Hit(best["doc_title"], best["url"], best["section"], text,
                 with_highlight(best["url"], hl))] if best["section"] else []
    return Result(title=best["doc_title"], url=best["url"], kind=best["kind"],
                  audience=best["audience"], snippet=text, highlight=hl,
                  sections=first + extra)
