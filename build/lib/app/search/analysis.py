"""Text analysis for the search index, tuned for build speed.

Whoosh analyses a field through a chain of generators (tokenizer, lower case, stop words,
stemmer), one Python call per filter per word; on 10,000 documents that chain was about a
third of the build.  ``FastStemmingAnalyzer`` gives exactly the terms and positions of
Whoosh's ``StemmingAnalyzer`` (tests compare them) in one loop with an unbounded stem cache,
and falls back to the stock chain for options the index never uses (character offsets,
kept stop words, ...).

``SharedPositions`` lets the builder analyse a text once for both indexes: the public and
the staff record of a public section usually hold the same text.  While a builder has
``remember()`` on, postings computed for a text are kept until ``forget()`` (per document).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from whoosh.analysis import StemmingAnalyzer
from whoosh.analysis.acore import Composable, Token
from whoosh.analysis.filters import STOP_WORDS
from whoosh.analysis.tokenizers import default_pattern
from whoosh.formats import Positions
from whoosh.lang.porter import stem as porter_stem

MIN_SIZE = 2  # StemmingAnalyzer's default: one-letter words are dropped like stop words
MAX_TERMS = 500_000

_stem = functools.lru_cache(maxsize=200_000)(porter_stem)
_TERMS: dict[str, str] = {}  # word as written -> its term ("" for a stop word)


def _term(word: str) -> str:
    lower = word.lower()
    return "" if len(lower) < MIN_SIZE or lower in STOP_WORDS else _stem(lower)


class FastStemmingAnalyzer(Composable):
    """Whoosh's ``StemmingAnalyzer()`` (default options) as one loop."""

    def __init__(self) -> None:
        self._stock = StemmingAnalyzer()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FastStemmingAnalyzer)

    def __hash__(self) -> int:
        return hash(FastStemmingAnalyzer)

    def terms(self, value: str) -> tuple[int, list[str]]:
        """(position of the first term, every term in order); positions run on from it."""
        first = -1
        out: list[str] = []
        known = _TERMS
        for pos, match in enumerate(default_pattern.finditer(value)):
            word = match.group(0)
            term = known.get(word)
            if term is None:
                if len(known) > MAX_TERMS:  # query words come from anyone: stay bounded
                    known.clear()
                term = known[word] = _term(word)
            if term:
                if first < 0:
                    first = pos
                out.append(term)
        return max(first, 0), out

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "", **kwargs,
                 ) -> Iterator[Token]:
        if chars or keeporiginal or not removestops or not tokenize:
            yield from self._stock(value, positions=positions, chars=chars,
                                   keeporiginal=keeporiginal, removestops=removestops,
                                   start_pos=start_pos, start_char=start_char,
                                   tokenize=tokenize, mode=mode, **kwargs)
            return
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        first, terms = self.terms(value)
        for offset, text in enumerate(terms):
            token.text, token.boost, token.stopped = text, 1.0, False
            if positions:
                token.pos = start_pos + first + offset
            yield token


class SharedPositions(Positions):
    """Positions postings, computed once per distinct text while the builder asks."""

    _memo: dict[str, list[tuple[str, int, float, bytes]]] | None = None

    @classmethod
    def remember(cls) -> None:
        cls._memo = {}

    @classmethod
    def forget(cls) -> None:
        if cls._memo is not None:
            cls._memo = {}

    @classmethod
    def stop(cls) -> None:
        cls._memo = None

    def word_values(self, value, analyzer, **kwargs):
        memo = SharedPositions._memo
        if memo is not None and (hit := memo.get(value)) is not None:
            return hit
        if isinstance(analyzer, FastStemmingAnalyzer) and not kwargs.get("start_pos"):
            first, terms = analyzer.terms(value)
            poses: dict[str, list[int]] = {}
            for offset, text in enumerate(terms):
                poses.setdefault(text, []).append(first + offset)
            fb = self.field_boost
            values = [(w, len(p), len(p) * fb, _encode(p)) for w, p in poses.items()]
        else:
            values = list(super().word_values(value, analyzer, **kwargs))
        if memo is not None:
            memo[value] = values
        return values


_ONE: dict[int, bytes] = {}  # a single position, by far the commonest posting


def _encode(positions: list[int]) -> bytes:
    """``Positions.encode``, with single positions looked up rather than pickled."""
    if len(positions) != 1:
        return _FORMAT.encode(positions)
    value = _ONE.get(positions[0])
    if value is None:
        value = _ONE[positions[0]] = _FORMAT.encode(positions)
    return value


_FORMAT = Positions()
