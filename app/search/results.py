"""From ranked documents to what an agent sees: grouped results with snippets and links.

Snippets depend only on a record's text and the query's terms, so they are remembered per
worker and outlive index writes (a save changes the text of only a few records).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from markupsafe import Markup, escape

from app.caching.lru import SizedLRU
from app.search.analysis import stem
from app.search.rank import Ranked

SECTIONS_PER_DOC = 3
SNIPPET_WIDTH = 220
_SNIPPETS = SizedLRU(max_items=20_000, max_bytes=16 << 20, size_of=lambda v: v[2])


@functools.lru_cache(maxsize=4096)
def _highlight_query(words: str) -> str:
    """``?hl=words``: the same for every link of one result."""
    return f"?{urlencode({'hl': words})}" if words else ""


def with_highlight(url: str, words: str) -> str:
    """``/policies/x?hl=words#sec-y``: the target page marks the words."""
    base, _, fragment = url.partition("#")
    return base + _highlight_query(words) + (f"#{fragment}" if fragment else "")


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
    more: bool = False  # kept for the API: counts are exact
    notice: str | None = None  # why there is nothing to search for, when there is not


def answer_size(answer: Answer) -> int:
    return 500 + sum(len(r.snippet) + 300 + sum(len(h.snippet) + 200 for h in r.sections)
                     for r in answer.results)


def _prefixes(stems: frozenset[str]) -> tuple[str, ...]:
    """Beginnings of the words that may have one of ``stems``: a stem is a prefix of its
    words, but for a final "i" ("deliveri" from "delivery")."""
    return tuple(sorted({t[:-1] if t.endswith("i") and len(t) > 2 else t for t in stems},
                        key=len, reverse=True))


@functools.lru_cache(maxsize=2048)
def _candidates(stems: frozenset[str]) -> re.Pattern | None:
    """The words of ``_prefixes`` as one pattern (the slow path of ``_spans``)."""
    prefixes = _prefixes(stems)
    if not prefixes:
        return None
    return re.compile(r"\b(?:" + "|".join(map(re.escape, prefixes)) + r")\w*", re.I)


_WORD_REST = re.compile(r"\w*")
_WORDLIKE = re.compile(r"\w+")


def _squeeze(text: str) -> str:
    r"""``re.sub(r"\s+", " ", text)``, several times faster: ``str.split`` splits on the
    same whitespace, and a run at either end becomes one space as with the pattern."""
    if not text:
        return text
    inner = " ".join(text.split())
    head = " " if text[0].isspace() else ""
    tail = " " if text[-1].isspace() and inner else ""
    return head + inner + tail


@functools.lru_cache(maxsize=2048)
def _search_plan(stems: frozenset[str]) -> tuple[tuple[str, ...], bool]:
    """``_prefixes(stems)``, and whether they are all word characters (so ``str.find``
    finds the same words as the pattern): the same for every text of one query."""
    prefixes = _prefixes(stems)
    if not all(_WORDLIKE.fullmatch(p) for p in prefixes):
        return prefixes, False
    # A word starting with "deliver" also starts with "deliv": the same start is found,
    # and each match runs to the end of its word, so the longer prefix finds nothing more.
    return tuple(p for p in prefixes
                 if not any(q != p and p.startswith(q) for q in prefixes)), True


def _starts(text: str, prefixes: tuple[str, ...]) -> list[tuple[int, int]] | None:
    """``_candidates(stems).finditer(text)`` as spans, by ``str.find`` on the lower-cased
    text (three times faster than the case-insensitive pattern, which tries every
    position), for prefixes of word characters only; None when the text's lower case is
    not the same length (the offsets would not line up)."""
    low = text.lower()
    if len(low) != len(text):
        return None
    starts = set()
    for prefix in prefixes:
        at = low.find(prefix)
        while at >= 0:
            if at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_"):  # \b
                starts.add(at)
            at = low.find(prefix, at + 1)
    # Each match runs to the end of its word, so one start per word, never overlapping.
    return [(at, _WORD_REST.match(text, at).end()) for at in sorted(starts)]


def _spans(text: str, stems: frozenset[str]) -> list[tuple[int, int]]:
    """Where ``text`` holds a word whose index term is one of ``stems``."""
    prefixes, wordlike = _search_plan(stems)
    if not prefixes:
        return []
    found = _starts(text, prefixes) if wordlike else None
    if found is None:
        found = [m.span() for m in _candidates(stems).finditer(text)]
    return [(s, e) for s, e in found if stem(text[s:e].lower()) in stems]


# Where the <mark> tags go in an extract that escaping changes: characters no policy text
# holds, so that the whole extract is escaped at once (an extract that does hold one is
# escaped piece by piece instead).
_OPEN, _CLOSE = "\x02", "\x03"
_SPECIAL = re.compile(r"[&<>\"'\x02\x03]")  # what escaping changes, and the marks


def _escaped(text: str) -> str:
    return str(escape(text))


def snippet(text: str, stems: frozenset[str],
            width: int = SNIPPET_WIDTH) -> tuple[Markup, set[str]]:
    """An escaped extract of ``text`` around its densest run of matches, matches in <mark>.

    Also returns the matched words as written (for highlighting on the target page)."""
    text = text.strip()
    spans = _spans(text, stems)
    if not spans:
        cut = text[:width]
        return escape(_squeeze(cut) + ("…" if len(text) > width else "")), set()
    best, right, most, last = 0, 0, 0, len(spans) - 1
    for left, (first, _end) in enumerate(spans):  # the window of ``width`` characters
        right = max(right, left)                   # with most matches
        while right < last and spans[right + 1][0] - first < width:
            right += 1
        if right - left + 1 > most:
            best, most = left, right - left + 1
        if right == last:  # every later window holds fewer
            break
    start = max(0, spans[best][0] - 40)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < spans[best][0] else start
    end = min(len(text), start + width)
    # Escaping goes character by character, so escaping the whole extract with the marks
    # in place is the same text as escaping each piece: one call, or none when nothing in
    # the extract changes.
    if not _SPECIAL.search(text, start, end):
        keep, opening, closing = str, "<mark>", "</mark>"
    elif _OPEN in text[start:end] or _CLOSE in text[start:end]:
        keep, opening, closing = _escaped, "<mark>", "</mark>"
    else:
        keep, opening, closing = str, _OPEN, _CLOSE
    pieces: list[str] = []
    pos = start
    seen: set[str] = set()
    for s, e in spans:
        if s < start or e > end:
            continue
        word = text[s:e]
        pieces += (keep(text[pos:s]), opening, keep(word), closing)
        seen.add(word.lower())
        pos = e
    pieces.append(keep(text[pos:end]))
    marked = "".join(pieces)
    if opening is _OPEN:
        marked = _escaped(marked).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")
    # Every piece of text is escaped; only our own <mark> tags are markup.
    return Markup(_squeeze(("…" if start else "") + marked  # noqa: S704
                           + ("…" if end < len(text) else ""))), seen


def _snippet(text: str, stems: frozenset[str]) -> tuple[Markup, frozenset[str]]:
    """``snippet``, remembered: the text and the stems decide it."""
    def make() -> tuple[Markup, frozenset[str], int]:
        marked, found = snippet(text, stems)
        return marked, frozenset(found), 2 * len(text) + len(marked) + 300

    marked, found, _size = _SNIPPETS.remember((text, stems), make)
    return marked, found


def result(doc: Ranked, stems: frozenset[str], sections: int = SECTIONS_PER_DOC) -> Result:
    """One document as a result: its best place first, then up to ``sections`` - 1 more
    sections that hold the words (the words marked on the target page are those found)."""
    top = doc.top
    places = doc.places_decoded()  # decoded one by one: the later ones are often not needed
    best = next(places, top)
    text, words = _snippet(best["text"], stems)
    if not words and best is not top:  # matched through the title only: say what it is
        text = _snippet(top["text"], stems)[0] if top["text"] else text
    marked = set(words) | _snippet(best["section"], stems)[1]  # heading words are marked too
    extra: list[Hit] = []
    for rec in places if sections > 1 else ():
        if not rec["section"]:
            continue
        extra_snippet, found = _snippet(rec["text"], stems)
        if not found:  # matched through the document title only: not worth a line
            continue
        marked |= found
        extra.append(Hit(rec["doc_title"], rec["url"], rec["section"], extra_snippet))
        if len(extra) >= sections - 1:  # before the next place is read
            break
    hl = " ".join(sorted(marked)[:12])
    for hit in extra:
        hit.link = with_highlight(hit.url, hl)
    first = [Hit(best["doc_title"], best["url"], best["section"], text,
                 with_highlight(best["url"], hl))] if best["section"] else []
    return Result(title=top["doc_title"], url=best["url"], kind=top["kind"],
                  audience=top["audience"], snippet=text, highlight=hl,
                  sections=first + extra)
