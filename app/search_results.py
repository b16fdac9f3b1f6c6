"""From a query's records to what a search answers: grouped, highlighted results.

The best records come from ``search_scoring.top`` (every match scored exactly); records of
one document are grouped, best section first, with snippets from the matching sections.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup
from whoosh import query as Q
from whoosh.searching import Searcher

from .search_query import snippet
from .search_scoring import top

log = logging.getLogger(__name__)

SECTIONS_PER_DOC = 3


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


@dataclass(frozen=True)
class Kept:
    """A cached answer: the build it is right for, and the documents it was built from."""

    build: str
    answer: Answer
    paths: frozenset[str]
    made: float  # time.monotonic() when computed


def queries_for(steps) -> list[Q.Query]:
    """The query for all words and, with several words, the any-word fallback."""
    if not steps.clauses and not steps.filters:
        return []
    if not steps.clauses:
        return [Q.And([Q.Every(), *steps.filters])]
    queries = [Q.And(steps.clauses + steps.filters)]
    if len(steps.clauses) > 1:
        queries.append(Q.And([Q.Or(steps.clauses), *steps.filters]))
    return queries


def answer_size(answer: Answer) -> int:
    return 500 + sum(len(r.snippet) + 300 + sum(len(h.snippet) + 200 for h in r.sections)
                     for r in answer.results)


def depth(limit: int) -> int:
    return limit * 5 + 20


def fetch(searcher: Searcher, query: Q.Query, limit: int) -> tuple[list[dict], bool]:
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
    return [searcher.stored_fields(n) for n in docnums], total > len(docnums)


def result_of(recs: list[dict], stems: set[str]) -> Result:
    """One document's hits as a result: best section first, then up to two more."""
    best = recs[0]  # the best-scoring place: a section, or the top of the page
    text, marked = snippet(best["text"], stems)
    marked |= snippet(best["section"], stems)[1]  # heading words are marked on the page too
    extra: list[Hit] = []
    for rec in [r for r in recs if r is not best and r["section"]]:
        if len(extra) >= SECTIONS_PER_DOC - 1:
            break
        extra_snippet, words = snippet(rec["text"], stems)
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
