"""Ranking: a plan as tantivy queries, and documents ordered by what they cover.

Any word may match (agents ask questions; no page holds every word of one), and a page
scores by:

- BM25 over weighted fields (``FIELD_WEIGHTS``: title, headings, summary and front-matter
  keywords, tags and aliases weigh more than body text), each group of the plan scored by
  its best option and field (plus a share of the others);
- a constant bonus for each group of the plan it covers (``COVER``), so a page with more of
  the query's words ranks above one that repeats a single word;
- a bonus for query words next to each other or close together (``NEAR``);
- both the whole document and its best place (the top or one ``##`` section):
  ``doc + PLACE_WEIGHT * best place``.  The result lands on that best place.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import tantivy

from app.search.index import SCHEMA, TEXT_FIELDS
from app.search.query import Group, Plan

FIELD_WEIGHTS = {"title": 2.5, "heading": 1.6, "meta": 1.8, "body": 1.0}
TIE_BREAKER = 0.3  # the other fields' share of a group's score
COVER = 8.0
DOC_COVER = 0.25  # coverage counts less in the whole document: a long page covers more words
NEAR, NEAR_SLOP, NEAR_PAIRS = 0.5, 3, 4
PLACE_WEIGHT = 0.6
PLACES = 4  # places kept per document: the best, and sections listed under it
MAX_RECORDS = 5000  # records read from one search of the best documents' records


def depth(limit: int) -> int:
    """Documents fetched to rank ``limit`` of them."""
    return limit * 2 + 10


def _term(name: str, term: str) -> tantivy.Query:
    return tantivy.Query.term_query(SCHEMA, name, term)


class Present:
    """Which fields of this index hold a run of terms at all, asked once per query.

    A field where a term never occurs can never match it, so its clauses are left out:
    the scores are the same, and a union with fewer clauses reads fewer postings (a typo's
    own spelling, a word no heading holds, a completion only the body has)."""

    def __init__(self, searcher: tantivy.Searcher):
        self.searcher = searcher
        self._known: dict[tuple[str, str], bool] = {}
        self._fields: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}

    def has(self, name: str, term: str) -> bool:
        key = (name, term)
        if key not in self._known:
            self._known[key] = self.searcher.doc_freq(name, term) > 0
        return self._known[key]

    def fields(self, terms: tuple[str, ...], names: tuple[str, ...] = TEXT_FIELDS) -> list[str]:
        """The fields of ``names`` holding every one of ``terms`` (each query level asks)."""
        key = (terms, names)
        if key not in self._fields:
            self._fields[key] = [n for n in names if all(self.has(n, t) for t in terms)]
        return self._fields[key]


def _option(name: str, terms: tuple[str, ...]) -> tantivy.Query:
    if len(terms) == 1:
        return _term(name, terms[0])
    return tantivy.Query.phrase_query(SCHEMA, name, list(terms), slop=1)


def _boost(query: tantivy.Query, boost: float) -> tantivy.Query:
    return query if boost == 1.0 else tantivy.Query.boost_query(query, boost)


def _any(queries: list[tantivy.Query]) -> tantivy.Query:
    if not queries:
        return tantivy.Query.empty_query()
    if len(queries) == 1:
        return queries[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _both(first: tantivy.Query, second: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, first),
                                        (tantivy.Occur.Must, second)])


def _group(group: Group, present: Present,
           cover: float = 1.0) -> tuple[tantivy.Query, tantivy.Query] | None:
    """(scored query, coverage query) of one group; None when no field holds any of its
    options (the group matches nothing)."""
    scored, covered = [], []
    for terms, weight in group.options:
        names = present.fields(terms)
        fields = [_option(name, terms) for name in names]
        if not fields:
            continue
        scored += [_boost(q, weight * FIELD_WEIGHTS[name])
                   for name, q in zip(names, fields, strict=True)]
        covered.append(tantivy.Query.const_score_query(_any(fields),
                                                       cover * weight * group.rarity))
    if not scored:
        return None
    best = tantivy.Query.disjunction_max_query(scored, tie_breaker=TIE_BREAKER)
    return best, (covered[0] if len(covered) == 1
                  else tantivy.Query.disjunction_max_query(covered))


def _phrase(phrase: list[tuple[int, str]], present: Present,
            among: tantivy.Query | None = None) -> tantivy.Query:
    """A required phrase in any field.  Among some documents' records (``among``), each
    field's phrase is led by those records: under a union, a phrase would otherwise be
    matched on every record near each candidate, not only on the candidates."""
    queries = [tantivy.Query.phrase_query(SCHEMA, name, list(phrase)) if len(phrase) > 1
               else _term(name, phrase[0][1])
               for name in present.fields(tuple(t for _pos, t in phrase))]
    if among is not None and len(queries) > 1:
        queries = [_both(among, q) for q in queries]
    return _any(queries)


def _near(plan: Plan, present: Present) -> list[tantivy.Query]:
    """Adjacent query words found close together, in the body or a heading."""
    firsts = [g.options[0][0] for g in plan.groups]
    out = []
    for a, b in list(itertools.pairwise(firsts))[:NEAR_PAIRS]:
        if len(a) == 1 and len(b) == 1 and a != b:
            pair = [(0, a[0]), (1, b[0])]
            out += [_boost(tantivy.Query.phrase_query(SCHEMA, name, pair, slop=NEAR_SLOP),
                           NEAR * FIELD_WEIGHTS[name])
                    for name in present.fields((a[0], b[0]), ("body", "heading"))]
    return out


def _filters(plan: Plan, level: str, present: Present,
             among: tantivy.Query | None) -> list[tantivy.Query]:
    out = [_term("level", level)]
    out += [_term("tags", t) for t in plan.tags]
    out += [_term("kind", k) for k in plan.kinds]
    out += [_phrase(p, present, among) for p in plan.phrases]
    return out


def compose(plan: Plan, level: str, present: Present, *, every_group: bool = False,
            among: tantivy.Query | None = None) -> tantivy.Query:
    """The query for one level of record ("doc" or "place"), but for the nearness bonus:
    ``_nearness`` adds it to the records of the best documents only.  When the caller
    restricts the query to some documents' records, ``among`` (those records, scoring 0)
    leads its phrases too."""
    parts = [(tantivy.Occur.Must, q) for q in _filters(plan, level, present, among)]
    cover = COVER * (DOC_COVER if level == "doc" else 1.0)
    groups = [_group(group, present, cover) for group in plan.groups]
    if groups and ((every_group and None in groups) or not any(groups)):
        return tantivy.Query.empty_query()  # a group no field holds: nothing can match
    for found in filter(None, groups):
        best, covered = found
        # Whether some record holds every group needs no score: the coverage clauses,
        # which only add to scores, are left out of that query.
        parts += ([(tantivy.Occur.Must, covered)] if every_group else
                  [(tantivy.Occur.Should, best), (tantivy.Occur.Should, covered)])
    # Some group must match (every optional clause implies one does): filters and phrases
    # alone only narrow.
    return tantivy.Query.boolean_query(
        parts, minimum_number_should_match=1 if plan.groups and not every_group else None)


_decode = json.JSONDecoder().raw_decode  # ``json.loads`` without its checks: a third faster


def _record(data: bytes) -> dict:
    return _decode(data.decode())[0]


@dataclass
class Ranked:
    """One document of an answer; records are read only for the documents shown, and
    their places only as far as they are used."""

    path: str
    score: float
    stored: bytes  # the document's own record (title, url, kind, audience, top text)
    searcher: tantivy.Searcher | None = None
    matched: list[tantivy.DocAddress] = field(default_factory=list)  # its places, best first

    @property
    def top(self) -> dict:
        return _record(self.stored)

    def places_decoded(self) -> Iterator[dict]:
        """Its matching places, best first, each read and decoded when it is reached."""
        return (_record(_stored(self.searcher, a)[1]) for a in self.matched)


def _stored(searcher: tantivy.Searcher, address: tantivy.DocAddress) -> tuple[str, bytes]:
    stored = searcher.doc(address)
    return stored.get_first("path"), stored.get_first("data")


Key = tuple[int, int]


def _key(address: tantivy.DocAddress) -> Key:
    return address.segment_ord, address.doc


def _among(numbers: list[int]) -> tantivy.Query:
    """The records (document and places) of these documents (give it a score with
    ``const_score_query``).

    Term queries, not ``term_set_query``: a set of terms matches as a bit set the size of
    the index, so it never leads an intersection, and the other clause is read whole."""
    return _any([tantivy.Query.term_query(SCHEMA, "docno", n) for n in numbers])


def _nearness(searcher: tantivy.Searcher, plan: Plan, present: Present,
              among: tantivy.Query) -> dict[Key, float]:
    """The nearness bonus (``_near``) of the records ``among`` selects (some documents'
    records, scoring 0) that have one.

    One small search per pair and field, each led by the documents' own records: as an
    optional clause of the main searches, a phrase of two common words was matched on
    every page holding both (half the time of a two-word search), though only the best
    pages' scores are ever used."""
    bonus: dict[Key, float] = {}
    for near in _near(plan, present):
        query = _both(among, near)
        for found, address in searcher.search(query, MAX_RECORDS, count=False).hits:
            bonus[_key(address)] = bonus.get(_key(address), 0.0) + found
    return bonus


def rank(searcher: tantivy.Searcher, plan: Plan, limit: int) -> tuple[list[Ranked], int, bool]:
    """The best ``limit`` documents, how many matched, and whether no document held every
    group (the answer matches only some of the words).

    Documents are ranked first by their own record; the places of the best ``depth``
    of them are then searched (only theirs), the nearness bonus is added to both, and
    each document adds its best place's score.  Documents and places are told apart by
    their ``docno`` column; stored records are decoded only for the documents shown (and
    for documents tied in score with them, whose paths break the tie)."""
    present = Present(searcher)
    docs = searcher.search(compose(plan, "doc", present), depth(limit), count=True)
    numbers = searcher.fast_field_values("docno", [address for _s, address in docs.hits])
    score = {n: s for n, (s, _a) in zip(numbers, docs.hits, strict=True)}
    address = {n: a for n, (_s, a) in zip(numbers, docs.hits, strict=True)}
    matched: dict[int, list[tantivy.DocAddress]] = {}
    if score and (plan.groups or plan.phrases):
        records = _among(list(score))
        among = tantivy.Query.const_score_query(records, 0.0)  # leads nearness and phrases
        bonus = _nearness(searcher, plan, present, among)
        if bonus:
            for number in score:
                score[number] += bonus.get(_key(address[number]), 0.0)
        query = _both(tantivy.Query.const_score_query(records, 1.0),
                      compose(plan, "place", present, among=among))
        places = searcher.search(query, MAX_RECORDS, count=False).hits
        owners = searcher.fast_field_values("docno", [a for _s, a in places])
        ranked: Iterable[tuple[tuple[float, tantivy.DocAddress], int]] = zip(places, owners,
                                                                             strict=True)
        if bonus:  # tantivy's order, by score then address, with the bonus added
            ranked = sorted((((s + bonus.get(_key(a), 0.0), a), n) for (s, a), n in ranked),
                            key=lambda p: (-p[0][0], _key(p[0][1])))
        for (place_score, place), number in ranked:
            if (found := matched.get(number)) is None:  # its best place
                matched[number] = [place]
                score[number] += PLACE_WEIGHT * place_score
            elif len(found) < PLACES:
                found.append(place)
    # The order is (-score, path): the documents scoring at least the ``limit``-th best
    # are all read (their paths settle ties), the others never are.
    scores = sorted(score.values(), reverse=True)
    floor = scores[min(limit, len(scores)) - 1] if scores else 0.0
    shown = []
    for number in (n for n in score if score[n] >= floor):
        path, data = _stored(searcher, address[number])
        shown.append(Ranked(path, score[number], data, searcher, matched.get(number, [])))
    order = sorted(shown, key=lambda r: (-r.score, r.path))[:limit]
    partial = len(plan.groups) > 1 and docs.count > 0 and not _some_holds_every(
        searcher, compose(plan, "doc", present, every_group=True), max(score, key=score.get))
    return order, docs.count, partial


def _some_holds_every(searcher: tantivy.Searcher, every: tantivy.Query, best: int) -> bool:
    """Whether some document matches ``every`` (all the groups).  The best document most
    often does, and asking among its own records reads one window of the index instead of
    every document's; only when it does not is the whole index asked (ordered by a column:
    nothing is scored)."""
    if searcher.search(_both(_among([best]), every), 1, count=False).hits:
        return True
    return bool(searcher.search(every, 1, count=False, order_by_field="docno").hits)
