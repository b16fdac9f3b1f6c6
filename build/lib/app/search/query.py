"""From what an agent types to grouped, highlighted results.

Query syntax: words (all must match; when none match together, any may), ``"quoted
phrases"``, ``tag:x`` and ``kind:policy|faq`` filters.  Words are stemmed; synonym groups
from ``synonyms.yml`` widen a word (or a run of words) to its whole group; an unknown word
is widened to index words one or two typos away (ranked below exact hits) and offered as
"Did you mean".  Everything here reads one index, the viewer's: suggestions, counts and
snippets can only ever come from text that viewer may read.
"""

from __future__ import annotations

import functools
import heapq
import logging
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup, escape
from whoosh import query as Q
from whoosh.lang.porter import stem as porter_stem
from whoosh.searching import Searcher

from app.caching.lru import SizedLRU
from app.content import synonyms as synonyms_file
from app.search.index import ANALYZER, WORD_ANALYZER
from app.search.scoring import segment_key

log = logging.getLogger(__name__)

MAX_QUERY = 200
FIELD = "content"
KIND_ALIASES = {"policy": "policy", "policies": "policy", "faq": "faq", "faqs": "faq",
                "question": "faq", "questions": "faq"}
FUZZY_BOOST = 0.3
PREFIX_BOOST = 0.5  # a completion of the word being typed ranks below the word itself
PREFIX_MIN, PREFIX_TERMS = 3, 8  # letters typed before completing; completions tried
_TOKEN_RE = re.compile(r'(?P<field>tag|kind):(?P<value>"[^"]*"|\S+)|"(?P<phrase>[^"]*)"?'
                       r'|(?P<word>[^\s"]+)', re.I)


_WORD_RE = re.compile(r"\w+")


@functools.lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    """Fast path for snippets: the analyzer's stem of one lower-case word."""
    return porter_stem(word)


def stem(word: str) -> str:
    tokens = [t.text for t in ANALYZER(word)]
    return tokens[0] if tokens else ""


def words(text: str) -> list[str]:
    return [t.text for t in WORD_ANALYZER(text)]


@dataclass
class Parsed:
    words: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    partial: bool = False  # the last word may still be being typed (no space after it)

    @property
    def empty(self) -> bool:
        return not (self.words or self.phrases or self.tags or self.kinds)


def parse(text: str) -> Parsed:
    parsed = Parsed()
    match = None
    for match in _TOKEN_RE.finditer(text[:MAX_QUERY]):
        if match.group("field"):
            name, value = match.group("field").lower(), match.group("value").strip('"').lower()
            if name == "tag" and value:
                parsed.tags.append(value)
            elif name == "kind" and value in KIND_ALIASES:
                parsed.kinds.append(KIND_ALIASES[value])
        elif match.group("phrase") is not None:
            phrase = [w for w in words(match.group("phrase")) if stem(w)]
            if len(phrase) > 1:
                parsed.phrases.append(phrase)
            else:
                parsed.words.extend(phrase)
        else:
            parsed.words.extend(words(match.group("word")))
    # A word right at the end (no space typed after it yet) may be unfinished.
    parsed.partial = bool(parsed.words and match and match.group("word")
                          and match.end() == len(text[:MAX_QUERY]))
    return parsed


def normalise(text: str) -> str:
    """The canonical form of a query, for analytics: lower case, single spaces."""
    return " ".join(text[:MAX_QUERY].lower().split())


# -- synonyms --------------------------------------------------------------------------------
class Synonyms:
    """Groups of interchangeable words from a YAML file, reloaded when the file changes.

    A missing or broken file means no synonyms (and a warning in the log), never an error.
    """

    def __init__(self, path: Path):
        self.path = path
        self.stamp: tuple[int, int] | None = None  # (mtime, size) the groups were read at
        self.groups: list[list[tuple[str, ...]]] = []
        self._lookup: dict[tuple[str, ...], int] = {}
        self.longest = 1

    def refresh(self) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp == self.stamp:
            return
        self.stamp = stamp
        self.groups, self._lookup, self.longest = [], {}, 1
        if stamp is None:
            log.warning("no synonyms file at %s: searching without synonyms", self.path)
            return
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("synonyms file %s ignored: %s", self.path, exc)
            return
        for group in synonyms_file.parse(text):  # tolerant: bad entries are skipped, logged
            entries = [tuple(stem(w) for w in words(term)) for term in group]
            entries = [e for e in entries if e and all(e)]
            if len(entries) > 1:
                self._add(entries)

    def _add(self, entries: list[tuple[str, ...]]) -> None:
        number = len(self.groups)
        self.groups.append(entries)
        for entry in entries:
            self._lookup.setdefault(entry, number)
            self.longest = max(self.longest, len(entry))

    def match(self, stems: list[str], start: int) -> tuple[int, list[tuple[str, ...]]] | None:
        """Longest synonym entry starting at ``stems[start]``: (length, its group)."""
        for size in range(min(self.longest, len(stems) - start), 0, -1):
            number = self._lookup.get(tuple(stems[start:start + size]))
            if number is not None:
                return size, self.groups[number]
        return None


# -- typos -----------------------------------------------------------------------------------
def distance(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit ("refnud" -> "refund")."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def max_typos(word: str) -> int:
    return 0 if len(word) < 4 else 1 if len(word) <= 7 else 2


def corrections(searcher: Searcher, word: str) -> list[str]:
    """Index terms (stems) within the allowed typos of ``word``, closest and commonest first.

    Candidates come from the viewer's own index, so a correction can never be a word that
    only internal text contains.
    """
    k = max_typos(word)
    if not k:
        return []
    reader = searcher.reader()
    found: set[str] = set()
    for probe in {word, stem(word)}:
        found.update(reader.terms_within(FIELD, probe, k, prefix=1))
        for i in range(len(probe) - 1):  # neighbour swaps: one typo for us, two for Levenshtein
            swapped = probe[:i] + probe[i + 1] + probe[i] + probe[i + 2:]
            if (FIELD, swapped) in reader:
                found.add(swapped)
    found.discard(stem(word))
    scored = [(min(distance(word, w), distance(stem(word), w)), -reader.doc_frequency(FIELD, w), w)
              for w in found]
    return [w for d, _f, w in sorted(scored) if d <= k][:8]


def surface(searcher: Searcher, stem_text: str, typed: str) -> str:
    """The word, as written in the index's own text, with stem ``stem_text`` closest to what
    was typed (for "Did you mean"): "deliverry" -> "deliveri" -> "delivery"."""
    forms: set[str] = set()
    postings = searcher.reader().postings(FIELD, stem_text)  # first records: no scoring
    docnums: list[int] = []
    while postings.is_active() and len(docnums) < 3:
        docnums.append(postings.id())
        postings.next()
    for docnum in docnums:
        hit = searcher.stored_fields(docnum)
        text = " ".join((hit.get("section", ""), hit.get("doc_title", ""), hit.get("text", "")))
        forms.update(w for w in (m.group().lower() for m in _WORD_RE.finditer(text))
                     if _stem(w) == stem_text)
    return min(forms, key=lambda w: (distance(typed, w), w)) if forms else stem_text


def completions(searcher: Searcher, word: str) -> list[tuple[str, float]]:
    """Index terms that start with a word still being typed, most used first, each with
    its share of use relative to the commonest ("refu" -> refund 1.0, refus 0.05), from the
    viewer's own index like every other suggestion."""
    if len(word) < PREFIX_MIN:
        return []
    # Whoosh's ``most_frequent_terms`` over the whole index, summed segment by segment:
    # a segment's terms never change, so each segment's answer is remembered.
    totals: dict[bytes, float] = {}
    for leaf, _start in searcher.reader().leaf_readers():
        for btext, weight in _prefix_weights(leaf, word):
            totals[btext] = totals.get(btext, 0.0) + weight
    found = heapq.nlargest(PREFIX_TERMS, ((weight, t) for t, weight in totals.items()))
    top = max((weight for weight, _t in found), default=0) or 1
    return [(t.decode() if isinstance(t, bytes) else t, weight / top) for weight, t in found]


# Terms by prefix, per segment (a segment never changes once written), per worker.
_PREFIXES = SizedLRU(max_items=20_000, max_bytes=8 << 20, size_of=lambda v: 100 + 60 * len(v))


def _prefix_weights(leaf, prefix: str) -> tuple[tuple[bytes, float], ...]:
    return _PREFIXES.remember((segment_key(leaf), prefix), lambda: tuple(
        (btext, info.weight()) for btext, info in leaf.iter_prefix(FIELD, prefix)))


# -- building the query ----------------------------------------------------------------------
def _any_field(stem_text: str, boost: float = 1.0) -> Q.Query:
    return Q.Term(FIELD, stem_text, boost=boost)


def _phrase(stems: tuple[str, ...] | list[str]) -> Q.Query:
    if len(stems) == 1:
        return _any_field(stems[0])
    return Q.Phrase(FIELD, list(stems))


def _known(searcher: Searcher, stem_text: str) -> bool:
    return searcher.doc_frequency(FIELD, stem_text) > 0


@dataclass
class Plan:
    clauses: list[Q.Query]
    filters: list[Q.Query]
    stems: set[str]  # every index term a hit may contain, for snippets
    suggestion: list[str] | None  # the query with typos corrected, when there were any


def plan(searcher: Searcher, parsed: Parsed, synonyms: Synonyms) -> Plan:
    pairs = [(w, stem(w)) for w in parsed.words]
    pairs = [(w, s) for w, s in pairs if s]  # stop words drop out
    typing = bool(parsed.partial and pairs and pairs[-1][0] == parsed.words[-1])
    stems = [s for _w, s in pairs]
    clauses: list[Q.Query] = []
    wanted: set[str] = set()
    corrected = [w for w, _s in pairs]
    typo = False
    i = 0
    while i < len(pairs):
        hit = synonyms.match(stems, i)
        if hit:
            size, group = hit
            clauses.append(Q.Or([_phrase(entry) for entry in group]))
            wanted.update(s for entry in group for s in entry)
            i += size
            continue
        word, stem_text = pairs[i]
        options: list[Q.Query] = [_any_field(stem_text)]
        wanted.add(stem_text)
        if typing and i == len(pairs) - 1:  # the word being typed: also its completions
            for completed, share in completions(searcher, word):
                if completed != stem_text:
                    # A rare completion (a rare word weighs a lot in BM25) must not
                    # outrank the word most people typing this mean.
                    options.append(_any_field(completed, boost=PREFIX_BOOST * share))
                    wanted.add(completed)
            if len(options) > 1:
                # Scored by its best completion: a page with "refund" and "refuse" is no
                # better an answer to "refu" than one about refunds.
                clauses.append(Q.DisjunctionMax(options))
                i += 1
                continue
        if len(options) == 1 and not _known(searcher, stem_text):
            fixes = corrections(searcher, word)
            for fixed in fixes:
                options.append(_any_field(fixed, boost=FUZZY_BOOST))
                wanted.add(fixed)
            if fixes:
                corrected[i], typo = surface(searcher, fixes[0], word), True
        clauses.append(Q.Or(options) if len(options) > 1 else options[0])
        i += 1
    for phrase in parsed.phrases:
        phrase_stems = [s for s in (stem(w) for w in phrase) if s]
        if phrase_stems:
            clauses.append(_phrase(phrase_stems))
            wanted.update(phrase_stems)
    filters: list[Q.Query] = [Q.Term("tags", t) for t in parsed.tags]
    filters += [Q.Term("kind", k) for k in sorted(set(parsed.kinds))]
    suggestion = None
    if typo:
        suggestion = corrected + [f'"{" ".join(p)}"' for p in parsed.phrases]
        suggestion += [f"tag:{t}" for t in parsed.tags] + [f"kind:{k}" for k in parsed.kinds]
    return Plan(clauses, filters, wanted, suggestion)


# -- snippets --------------------------------------------------------------------------------
# Each record text's words, per worker, bounded by size (a long section has a thousand words).
_WORDS = SizedLRU(max_items=8192, max_bytes=16 << 20, size_of=lambda v: v[2])


def _stemmed_words(text: str) -> tuple[array, tuple[str, ...], int]:
    """(start, end) offsets (flat) and stems of every word of a record's text.  Remembered:
    while an agent types, each keystroke asks for the same records' snippets with other
    stems."""
    def make() -> tuple[array, tuple[str, ...], int]:
        spans, stems = array("i"), []
        for match in _WORD_RE.finditer(text):
            spans.extend(match.span())
            stems.append(_stem(match.group().lower()))
        return spans, tuple(stems), 2 * len(text) + 16 * len(stems) + 200

    return _WORDS.remember(text, make)


def snippet(text: str, stems: set[str], width: int = 220) -> tuple[Markup, set[str]]:
    """An escaped extract of ``text`` around its densest run of matches, matches in <mark>.

    Also returns the matched words as written (for highlighting on the target page).
    """
    text = text.strip()
    offsets, words, _size = _stemmed_words(text)
    spans = [(offsets[2 * i], offsets[2 * i + 1]) for i, stem in enumerate(words)
             if stem in stems]
    if not spans:
        cut = text[:width]
        return escape(re.sub(r"\s+", " ", cut) + ("…" if len(text) > width else "")), set()
    best = max(range(len(spans)),
               key=lambda i: sum(1 for s, _e in spans[i:] if s - spans[i][0] < width))
    start = max(0, spans[best][0] - 40)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < spans[best][0] else start
    end = min(len(text), start + width)
    parts: list[str] = ["…" if start else ""]
    pos = start
    seen: set[str] = set()
    for s, e in spans:
        if s < start or e > end:
            continue
        parts.append(str(escape(text[pos:s])))
        parts.append(f"<mark>{escape(text[s:e])}</mark>")
        seen.add(text[s:e].lower())
        pos = e
    parts.append(str(escape(text[pos:end])))
    parts.append("…" if end < len(text) else "")
    # Every piece of text was escaped above; only our own <mark> tags are markup.
    return Markup(re.sub(r"\s+", " ", "".join(parts))), seen  # noqa: S704
