"""Text analysis: the words the index holds and the words a query asks for.

Two tantivy analyzers, registered on every index under fixed names:

- ``kb`` (searchable fields): words of letters and digits, lower case, stop words dropped
  (their positions stay, so phrases still line up), English Snowball stems.
- ``kb_words`` (the lexicon): the same words unstemmed, with stop words, so completions
  and typo corrections work on words as people write them ("escalat" -> "escalation").

Queries drop a few more words than the index does (``QUESTION_WORDS``): an agent types
"how do I ..." but no page is about "how".
"""

from __future__ import annotations

import functools

import tantivy

STEMMED, LEXICON = "kb", "kb_words"
MAX_WORD = 40  # longer "words" are base64, hashes or URLs: neither indexed nor searched

# Index stop words: what carries no meaning in a policy (a short list, so "not" and
# "no" stay searchable: "items that cannot be returned" is about what is *not* allowed).
STOP_WORDS = frozenset("""
a an and are as at be by for from in into is it its of on or the their then there these
this to was were will with
""".split())  # noqa: SIM905
# Query-only: the words of a question, pronouns, and "after" and "before" (they say when,
# not what: "broke after a year" is about what broke).  Never dropped from a phrase.
QUESTION_WORDS = frozenset("""
how what when where which who whom why whose do does did done can could would should shall
i me my mine we us our you your yours he she him her his they them am been being have has
had having get getting got so if than that just any some about please want need tell know
there here also very says said after before
""".split())  # noqa: SIM905


def is_question_word(word: str) -> bool:
    """Whether a query word is one of ``QUESTION_WORDS`` or a form of one ("wants",
    "needed", "says"): a form left in would match every page that says "want"."""
    return word in QUESTION_WORDS or (word[:1].isalpha() and stem(word) in _QUESTION_STEMS)


def _builder(stem: bool) -> tantivy.TextAnalyzer:
    builder = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
               .filter(tantivy.Filter.remove_long(MAX_WORD))
               .filter(tantivy.Filter.lowercase()))
    if stem:
        builder = (builder.filter(tantivy.Filter.custom_stopword(sorted(STOP_WORDS)))
                   .filter(tantivy.Filter.stemmer("english")))
    return builder.build()


ANALYZER = _builder(stem=True)
WORDS = _builder(stem=False)


def register(index: tantivy.Index) -> tantivy.Index:
    index.register_tokenizer(STEMMED, ANALYZER)
    index.register_tokenizer(LEXICON, WORDS)
    return index


def words(text: str) -> list[str]:
    """The words of ``text`` as the lexicon holds them (lower case, unstemmed)."""
    return WORDS.analyze(text)


@functools.lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The index term of one word ("" for a stop word)."""
    found = ANALYZER.analyze(word)
    return found[0] if len(found) == 1 else ""


# Base words only ("want" -> "wants", "wanted"), so "says" drops and "say sorry" stays.
_QUESTION_STEMS = frozenset(w for w in QUESTION_WORDS if len(w) > 2 and stem(w) == w)


def tokens(text: str) -> list[tuple[int, int, int, str]]:
    """(position, start, end, term) of every indexed word of ``text`` (character offsets)."""
    return [(t.position, t.char_offset_from, t.char_offset_to, t.text)
            for t in ANALYZER.pre_tokenize(text).tokens]
