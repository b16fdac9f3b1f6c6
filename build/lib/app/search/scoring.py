"""Exact top-k ranking with array arithmetic over whole posting lists.

Whoosh scores one posting at a time in Python: a word found on every page of a 10,000-page
catalogue (some 60,000 records) costs about 100 ms that way, so searches used to stop after
a time budget and rank only the records scored by then.  Here the same BM25F scores are
computed for a whole posting list at once with numpy, so every matching record is ranked,
in a few milliseconds.

The query tree is the one ``search_query.plan`` builds for Whoosh: ``Term``, ``And``,
``Or``, ``DisjunctionMax`` and ``Every`` are evaluated as arrays, and so is a ``Phrase``
(word positions as arrays); any other node runs through Whoosh's own matcher.  Scores and
order are the ones ``searcher.search`` gives (tests compare the two): best score first, and
on equal scores the earlier record, as Whoosh's top-k collector keeps it.

Posting lists, field lengths and deletion masks are read once per segment (a segment's
postings never change and its deletions only grow) and kept in a per-process cache, so a
common word costs its arithmetic, not its decoding, from the second search on.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
from whoosh import query as Q
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.reading import IndexReader
from whoosh.scoring import BM25F, WeightScorer
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from app.caching.lru import SizedLRU

CACHE_BYTES = 96 << 20  # per process: postings of the commonest words and segment arrays

_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_LENGTH_OF_BYTE[0] = 1.0  # Whoosh's default for a record without the field


@dataclass(frozen=True)
class Matches:
    """Matching records of one segment: sorted local record numbers and their scores."""

    ids: np.ndarray  # int64, ascending, unique
    scores: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.ids)


EMPTY = Matches(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))

_cache = SizedLRU(max_items=50_000, max_bytes=CACHE_BYTES, size_of=lambda v: v[-1])


def _cached(key: tuple, make):
    def sized():
        value = make()
        return value, 200 + sum(a.nbytes for a in _arrays(value))

    return _cache.remember(key, sized)[0]


def _arrays(value) -> list[np.ndarray]:
    return list(value) if isinstance(value, tuple) else [value]


def segment_key(reader: IndexReader) -> tuple:
    """What a per-segment cache is keyed by.  Whoosh names each segment with 16 random
    characters (gunicorn reseeds every worker), so the public and staff indexes never share
    a name, and a segment's files never change once written."""
    segment = reader.segment()
    return (segment.segment_id(), segment.doc_count_all())


# -- per-segment arrays ----------------------------------------------------------------------
def postings(reader: IndexReader, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Record numbers and weights of one term in one segment, deletions included; empty
    when the segment lacks the term (remembered too: looking a term up in Whoosh's hash
    file costs more than the arrays)."""
    def make() -> tuple[np.ndarray, np.ndarray]:
        if (field, btext) not in reader:
            return EMPTY.ids, EMPTY.scores
        return _read_postings(reader, field, btext)

    return _cached(("postings", segment_key(reader), field, btext), make)


def _read_postings(reader: IndexReader, field: str,
                   btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    # Block by block rather than posting by posting: each block is one unpickled array.
    matcher = reader._terms.matcher(field, btext, reader.schema[field].format)
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        raw_ids, raw_weights = matcher._data[0], matcher._data[1]
        count = matcher._blocklength
        block = np.asarray(raw_ids, dtype=np.int64)
        ids.append(block if matcher._byteids else np.cumsum(block))
        if raw_weights is None:
            weights.append(np.ones(count))
        elif isinstance(raw_weights, float):
            weights.append(np.full(count, raw_weights))
        else:
            weights.append(np.asarray(raw_weights, dtype=np.float64))
        matcher._next_block()
    if not ids:
        return EMPTY.ids, EMPTY.scores
    return np.concatenate(ids), np.concatenate(weights)


def field_lengths(reader: IndexReader, field: str) -> np.ndarray:
    """Each record's length of ``field`` as BM25 sees it (Whoosh stores it in one byte)."""
    return _cached(("lengths", segment_key(reader), field),
                   lambda: _read_lengths(reader, field))


def _read_lengths(reader: IndexReader, field: str) -> np.ndarray:
    count = reader.doc_count_all()
    column = reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
    if column is None:
        return np.ones(count)
    raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
    codes = np.zeros(count, dtype=np.uint8)
    codes[:min(count, len(raw))] = raw[:count]
    return _LENGTH_OF_BYTE[codes]


def live(reader: IndexReader) -> np.ndarray | None:
    """A mask of records not deleted, or None when the segment has no deletions."""
    if not reader.has_deletions():
        return None
    segment = reader.segment()
    key = ("live", segment.segment_id(), segment.doc_count_all(), segment.deleted_count())

    def make() -> np.ndarray:
        mask = np.ones(reader.doc_count_all(), dtype=bool)
        mask[np.fromiter(segment.deleted_docs(), dtype=np.int64)] = False
        return mask

    return _cached(key, make)


# -- evaluating a query tree on one segment --------------------------------------------------
def evaluate(searcher: Searcher, query: Q.Query) -> Matches:
    """Every record of one segment's ``searcher`` that matches ``query``, with its score."""
    kind = type(query)  # exactly these classes: subclasses (Ordered, …) mean more
    if kind is Q.Term:
        return _term(searcher, query)
    if kind is Q.And and query.subqueries:
        return _boosted(_intersection(searcher, query.subqueries), query.boost)
    if kind is Q.Or and query.subqueries and not query.scale and not query.minmatch:
        parts = [evaluate(searcher, sub) for sub in query.subqueries]
        return _boosted(_union([p for p in parts if len(p)]), query.boost)
    if kind is Q.DisjunctionMax and query.subqueries:  # Whoosh scores the best part only
        parts = [evaluate(searcher, sub) for sub in query.subqueries]
        return _boosted(_union([p for p in parts if len(p)], best=True), query.boost)
    if kind is Q.Phrase and query.slop == 1 and query.words:
        return _phrase(searcher, query)
    if kind is Q.Every and query.fieldname in (None, "", "*"):
        ids = _live_ids(searcher.reader())
        return Matches(ids, np.full(len(ids), float(query.boost)))
    return _whoosh(searcher, query)


def _term(searcher: Searcher, query: Q.Term) -> Matches:
    reader = searcher.reader()
    if query.fieldname not in searcher.schema:
        return EMPTY
    field = searcher.schema[query.fieldname]
    try:
        btext = field.to_bytes(query.text)
    except ValueError:
        return EMPTY
    ids, weights = postings(reader, query.fieldname, btext)
    if not len(ids):
        return EMPTY
    mask = live(reader)
    if mask is not None:
        keep = mask[ids]
        ids, weights = ids[keep], weights[keep]
    stats = _bm25_stats(searcher, query.fieldname, btext)
    if stats is not None:
        idf, avgfl, b, k1 = stats
        fl = field_lengths(reader, query.fieldname)[ids]
        # Whoosh's ``bm25`` term for term, so each score is the float Whoosh computes.
        scores = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * fl / avgfl)))
        return _boosted(Matches(ids, scores), query.boost)
    scorer = searcher.weighting.scorer(searcher, query.fieldname, btext)
    if isinstance(scorer, WeightScorer):
        scores = weights.copy()
    else:
        return _boosted(_whoosh(searcher, Q.Term(query.fieldname, query.text)),
                        query.boost)
    return _boosted(Matches(ids, scores), query.boost)


def _bm25_stats(searcher: Searcher, field: str, btext: bytes
                ) -> tuple[float, float, float, float] | None:
    """(idf, average length, B, K1) exactly as Whoosh's BM25F scorer takes them, or None
    for another weighting.  The first two are index-wide, so they are kept on the
    top-level searcher: Whoosh works them out again for every segment, each time looking
    the term up in every segment."""
    weighting = searcher.weighting
    if type(weighting) is not BM25F or not searcher.schema[field].scorable:
        return None
    parent = searcher.get_parent()
    memo = parent.__dict__.setdefault("_bm25_stats", {})
    found = memo.get((field, btext))
    if found is None:
        found = memo[(field, btext)] = (parent.idf(field, btext),
                                        parent.avg_field_length(field) or 1)
    return (*found, weighting._field_B.get(field, weighting.B), weighting.K1)


def _intersection(searcher: Searcher, subqueries: list[Q.Query]) -> Matches:
    parts = sorted((evaluate(searcher, sub) for sub in subqueries), key=len)
    result = parts[0]
    for part in parts[1:]:
        if not len(result):
            break
        result = _both(result, part)
    return result


def _phrase(searcher: Searcher, query: Q.Phrase) -> Matches:
    """Records holding the words one after the other, scored as Whoosh scores a phrase:
    the sum of its words' scores."""
    words = [Q.Term(query.fieldname, w) for w in query.words]
    found = _intersection(searcher, words)
    if not len(found) or len(words) < 2:
        return _boosted(found, query.boost)
    reader = searcher.reader()
    field = searcher.schema[query.fieldname]
    starts = None  # record * _SPAN + position of the first word, for each possible start
    for offset, word in enumerate(query.words):
        ids, places = positions(reader, query.fieldname, field.to_bytes(word))
        # Sorted by record, then position, so these keys are sorted and unique too.
        keys = ids * _SPAN + (places - offset)
        if starts is None:
            starts = keys[_lookup(found.ids, ids)[1]]
        else:
            starts = starts[_lookup(keys, starts)[1]]
        if not len(starts):
            return EMPTY
    keep = _lookup(np.unique(starts // _SPAN), found.ids)[1]
    return _boosted(Matches(found.ids[keep], found.scores[keep]), query.boost)


_SPAN = 1 << 32  # positions within one record stay far below this


def positions(reader: IndexReader, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Every occurrence of a term in one segment: (record number, position) arrays."""
    return _cached(("positions", segment_key(reader), field, btext),
                   lambda: _read_positions(reader, field, btext))


def _read_positions(reader: IndexReader, field: str,
                    btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    ids, _weights = postings(reader, field, btext)
    fmt = reader.schema[field].format
    matcher = reader._terms.matcher(field, btext, fmt)
    decoded: dict[bytes, list[int]] = {}  # most postings hold one position: same bytes
    places: list[list[int]] = []
    while matcher.is_active():
        if matcher._values is None:
            matcher._read_values()
        for value in matcher._values:
            hit = decoded.get(value)
            if hit is None:
                hit = decoded[value] = fmt.decode_positions(value)
            places.append(hit)
        matcher._next_block()
    counts = np.fromiter((len(p) for p in places), dtype=np.int64, count=len(places))
    flat = np.fromiter(chain.from_iterable(places), dtype=np.int64, count=int(counts.sum()))
    return np.repeat(ids, counts), flat


def _both(a: Matches, b: Matches) -> Matches:
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return EMPTY
    where, hit = _lookup(b.ids, a.ids)
    return Matches(a.ids[hit], a.scores[hit] + b.scores[where[hit]])


def _lookup(haystack: np.ndarray, needles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each needle sits in a sorted haystack, and which needles are there at all."""
    where = np.searchsorted(haystack, needles)
    where[where == len(haystack)] = 0
    return where, haystack[where] == needles if len(haystack) else np.zeros(len(needles), bool)


def _union(parts: list[Matches], *, best: bool = False) -> Matches:
    """Records in any part, scored by the sum of their parts' scores (or the best one)."""
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    ids, where = np.unique(np.concatenate([p.ids for p in parts]), return_inverse=True)
    every = np.concatenate([p.scores for p in parts])
    if best:
        scores = np.full(len(ids), -np.inf)
        np.maximum.at(scores, where, every)
    else:
        scores = np.bincount(where, weights=every, minlength=len(ids))
    return Matches(ids, scores)


def _boosted(matches: Matches, boost: float) -> Matches:
    if boost == 1.0 or not len(matches):
        return matches
    return Matches(matches.ids, matches.scores * boost)


def _live_ids(reader: IndexReader) -> np.ndarray:
    mask = live(reader)
    if mask is None:
        return np.arange(reader.doc_count_all(), dtype=np.int64)
    return np.flatnonzero(mask).astype(np.int64)


def _whoosh(searcher: Searcher, query: Q.Query) -> Matches:
    """Whoosh's own matcher, for a node the arrays do not cover."""
    matcher = query.matcher(searcher, searcher.context())
    ids: list[int] = []
    scores: list[float] = []
    while matcher.is_active():
        ids.append(matcher.id())
        scores.append(matcher.score())
        matcher.next()
    return Matches(np.array(ids, dtype=np.int64), np.array(scores, dtype=np.float64))


# -- the top records over every segment ------------------------------------------------------
def top(searcher: Searcher, query: Q.Query, limit: int) -> tuple[list[int], int]:
    """The ``limit`` best records (index-wide record numbers, best first) and how many
    records matched in all."""
    ids_parts, score_parts = [], []
    for sub, offset in searcher.leaf_searchers():
        found = evaluate(sub, query)
        if len(found):
            ids_parts.append(found.ids + offset)
            score_parts.append(found.scores)
    if not ids_parts:
        return [], 0
    ids = np.concatenate(ids_parts)
    # Scores that differ only in a float's last bits (from the order a query's parts were
    # added in) are equal: such records keep index order, whatever the query tree's shape.
    scores = np.round(np.concatenate(score_parts), 9)
    if len(ids) > limit:
        # Everything scoring at least the limit-th best score, then exact order among those.
        threshold = np.partition(scores, len(scores) - limit)[len(scores) - limit]
        keep = scores >= threshold
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:limit]
    return ids[order].tolist(), int(sum(len(p) for p in ids_parts))
