"""From what an agent types to a plan: the groups of words to look for, and filters.

Query syntax: words, ``"quoted phrases"`` (required), ``tag:x`` and ``kind:policy|faq``
filters.  Each word becomes a *group* of interchangeable index terms: its stem; the whole
synonym group (``synonyms.yml``) when a word or run of words is in one; the compound
written as one word or as two ("roll back" / "rollback"); corrections one or two typos
away when the word is unknown (ranked below exact words and offered as "Did you mean");
and, for a word still being typed, the index words that start with it.  Everything comes
from one index, the viewer's: suggestions and completions can only ever come from text
that viewer may read.

The work of one query is bounded: at most ``MAX_WORDS`` words, ``TYPO_WORDS`` corrected
words with ``TYPO_TERMS`` corrections each, ``PREFIX_TERMS`` completions, ``MAX_OPTIONS``
terms per group.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import tantivy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from app.caching.lru import SizedLRU
from app.content import synonyms as synonyms_file
from app.content.store import ContentStore
from app.search.analysis import is_question_word, stem, tokens, words

log = logging.getLogger(__name__)

MAX_QUERY = 200
MAX_WORDS = 12
TYPO_WORDS, TYPO_TERMS = 4, 3
PREFIX_MIN, PREFIX_TERMS = 3, 24
MAX_OPTIONS = 32
FUZZY_BOOST = 0.4  # a correction weighs less than the word itself
PREFIX_BOOST = 0.6  # a completion of the word being typed ranks below the word itself
SYNONYM_BOOST = 0.9
# A word made of two index words also matches its last one, the word it names a kind of
# ("cybersecurity" -> "security", "smartphone" -> "phone"), weighing half; only a last
# part of five letters or more, as shorter ones are mostly particles ("rollback", "login").
HEAD_MIN, HEAD_BOOST = 5, 0.5
# What a question's opening asks for, though its words are dropped: "how much is postage"
# wants a price, "how long does a refund take" a time.  Searched as one more group, weighing
# half a word, so pages giving the price or the time rank first among those on the subject.
INTENTS = {("how", "much"): ("cost", "price", "charge", "fee", "free"),
           ("how", "long"): ("days", "time", "hours", "weeks", "within"),
           ("how", "soon"): ("days", "time", "hours", "within"),
           ("how", "quick"): ("days", "time", "hours", "within"),
           ("how", "quickly"): ("days", "time", "hours", "within"),
           ("how", "many"): ("days", "number", "limit")}
INTENT_BOOST = 0.5
KIND_ALIASES = {"policy": "policy", "policies": "policy", "faq": "faq", "faqs": "faq",
                "question": "faq", "questions": "faq"}
_TOKEN_RE = re.compile(r'(?P<field>tag|kind):(?P<value>"[^"]*"|\S+)|"(?P<phrase>[^"]*)"?'
                       r'|(?P<word>[^\s"]+)', re.I)


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
    text = text[:MAX_QUERY]
    for match in _TOKEN_RE.finditer(text):
        if match.group("field"):
            name, value = match.group("field").lower(), match.group("value").strip('"').lower()
            if name == "tag" and value:
                parsed.tags.append(value)
            elif name == "kind" and value in KIND_ALIASES:
                parsed.kinds.append(KIND_ALIASES[value])
        elif match.group("phrase") is not None:
            phrase = words(match.group("phrase"))
            if len([w for w in phrase if stem(w)]) > 1:
                parsed.phrases.append(phrase)
            else:
                parsed.words.extend(w for w in phrase if stem(w))
        else:
            parsed.words.extend(words(match.group("word")))
    # A word right at the end (no space typed after it yet) may be unfinished.
    parsed.partial = bool(parsed.words and match and match.group("word")
                          and match.end() == len(text))
    return parsed


def normalise(text: str) -> str:
    """The canonical form of a query, for analytics: lower case, single spaces."""
    return " ".join(text[:MAX_QUERY].lower().split())


# -- synonyms --------------------------------------------------------------------------------
class Synonyms:
    """Groups of interchangeable words from a YAML file, reloaded when the file changes
    (given the content store, the file as committed at HEAD: an uncommitted edit waits).

    A missing or broken file means no synonyms (and a warning in the log), never an error.
    """

    def __init__(self, path: Path, committed: ContentStore | None = None):
        self.path = path
        self.committed = committed  # the content store: read the file as committed at HEAD
        self.stamp: tuple[int, int] | None = None  # (mtime, size) the groups were read at
        self.groups: list[list[tuple[str, ...]]] = []
        self._lookup: dict[tuple[str, ...], int] = {}
        self.longest = 1

    def refresh(self) -> None:
        if self.committed is not None:  # as committed at HEAD: never an uncommitted edit
            blob = self.committed.blob_of(self.path.name)
            stamp = (blob, 0) if blob else None
        else:
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
            text = (self.path.read_text(encoding="utf-8") if self.committed is None else
                    (self.committed.committed(self.path.name) or b"").decode("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("synonyms file %s ignored: %s", self.path, exc)
            return
        for group in synonyms_file.parse(text):  # tolerant: bad entries are skipped, logged
            entries = [tuple(s for s in (stem(w) for w in words(term)) if s) for term in group]
            entries = [e for e in entries if e]
            if len(entries) > 1:
                number = len(self.groups)
                self.groups.append(entries[:MAX_OPTIONS])
                for entry in entries:
                    self._lookup.setdefault(entry, number)
                    self.longest = max(self.longest, len(entry))

    def match(self, stems: list[str], start: int) -> tuple[int, list[tuple[str, ...]]] | None:
        """Longest synonym entry starting at ``stems[start]``: (how many query words it
        spans, its group).  Stop words in between are passed over, as the entries have
        none: "bring it back" is "bring back", "send them back" is "send back"."""
        at = [j for j in range(start, len(stems)) if stems[j]][:self.longest]
        if not at or at[0] != start:
            return None
        for size in range(len(at), 0, -1):
            number = self._lookup.get(tuple(stems[j] for j in at[:size]))
            if number is not None:
                return at[size - 1] - start + 1, self.groups[number]
        return None


# -- the lexicon: completions and typos ------------------------------------------------------
def max_typos(word: str) -> int:
    return 0 if len(word) < 4 else 1 if len(word) <= 7 else 2


# Words by first letters, per index build and worker: typo candidates and completions.
_PREFIXES = SizedLRU(max_items=4096, max_bytes=16 << 20, size_of=lambda v: 200 + 40 * len(v))


class Lexicon:
    """The words of one index build (``key`` names it), with their document counts."""

    def __init__(self, searcher: tantivy.Searcher, key: tuple):
        self.searcher, self.key = searcher, key

    def count(self, word: str) -> int:
        return self.searcher.doc_freq("words", word)

    def rarity(self, typed: str) -> float:
        """How telling a word is, from 0 (on every page) to 1 (on one page): its inverse
        document frequency, scaled (the least frequent word of a run counts)."""
        total = self.searcher.doc_freq("level", "doc") or 1
        counts = [self.count(w) for w in typed.split()]
        found = min((n for n in counts if n), default=0) or 1
        return math.log(1 + total / found) / math.log(1 + total)

    def starting(self, prefix: str) -> tuple[tuple[str, int], ...]:
        return _PREFIXES.remember((self.key, prefix), lambda: tuple(
            self.searcher.terms_with_prefix("words", prefix)))

    def completions(self, prefix: str) -> list[tuple[str, float]]:
        """Words that start with ``prefix``, most used first, each with its use relative to
        the commonest ("refu" -> refund 1.0, refused 0.05)."""
        if len(prefix) < PREFIX_MIN:
            return []
        found = sorted(self.starting(prefix), key=lambda t: (-t[1], t[0]))[:PREFIX_TERMS]
        top = found[0][1] if found else 1
        return [(w, n / top) for w, n in found]

    def corrections(self, word: str) -> list[str]:
        """Words within the allowed typos of ``word`` (a swap of neighbours is one typo),
        closest then commonest first; they share its first letter."""
        k = max_typos(word)
        if not k:
            return []
        choices = {w: n for w, n in self.starting(word[0]) if abs(len(w) - len(word)) <= k}
        found = process.extract(word, list(choices), scorer=OSA.distance, score_cutoff=k,
                                limit=50)
        ranked = sorted(found, key=lambda f: (f[1], -choices[f[0]], f[0]))
        return [w for w, _d, _i in ranked if w != word and stem(w)][:TYPO_TERMS]


# -- the plan --------------------------------------------------------------------------------
Option = tuple[tuple[str, ...], float]  # index terms in a row (a phrase when several), weight


@dataclass
class Group:
    """One thing the query asks for: any of its options will do."""

    options: list[Option]
    typed: str  # the words as typed
    rarity: float = 1.0  # see ``Lexicon.rarity``
    # The word whose rarity the group has, when not the one typed: the correction of a
    # typo, the commonest completion of a word being typed ("deliv" weighs as "delivery").
    weighed: str = ""


@dataclass
class Plan:
    groups: list[Group]
    phrases: list[list[tuple[int, str]]]  # required phrases: (position, term)
    tags: list[str]
    kinds: list[str]
    stems: set[str]  # every index term a hit may contain, for snippets
    suggestion: str | None = None  # the query with typos corrected, when there were any
    only_common: bool = False  # every word was a stop word

    @property
    def empty(self) -> bool:
        return not (self.groups or self.phrases or self.tags or self.kinds)


def _merge(options: list[Option]) -> list[Option]:
    best: dict[tuple[str, ...], float] = {}
    for terms, weight in options:
        if terms and all(terms):
            best[terms] = max(weight, best.get(terms, 0.0))
    return sorted(best.items(), key=lambda o: -o[1])[:MAX_OPTIONS]


def plan(lexicon: Lexicon, parsed: Parsed, synonyms: Synonyms) -> Plan:
    kept = [w for w in parsed.words[:MAX_WORDS] if not is_question_word(w)]
    kept = kept or parsed.words[:MAX_WORDS]  # "how do I" alone still means something
    pairs = [(w, stem(w)) for w in kept]
    typing = bool(parsed.partial and kept and kept[-1] == parsed.words[-1])
    last = len(pairs) - 1
    stems = [s for _w, s in pairs]
    groups: list[Group] = []
    corrected: list[str] = []
    typos = 0
    i = 0
    while i < len(pairs):
        word, term = pairs[i]
        hit = synonyms.match(stems, i) if term else None
        if hit:
            size, group = hit
            typed = tuple(s for s in stems[i:i + size] if s)
            options = [(e, 1.0 if e == typed else SYNONYM_BOOST) for e in group]
            if typing and i + size - 1 == last:
                options += _completed(kept[last], lexicon.completions(kept[last]))
            groups.append(Group(_merge(options), " ".join(kept[i:i + size])))
            corrected.extend(kept[i:i + size])
            i += size
            continue
        nxt = pairs[i + 1] if i < last else None
        if term and nxt and lexicon.count(word + nxt[0]):
            # Two words the index also holds as one: "roll back" / "rollback", "log in" /
            # "login" (a stop word is not in the index: "log" alone stands for "log in").
            # The second may be the last, not yet followed by a space: "rollback" being a
            # word, "back" is most likely finished.
            both = (term, nxt[1]) if nxt[1] else (term,)
            groups.append(Group(_merge([(both, 1.0), ((stem(word + nxt[0]),), 1.0)]),
                                f"{word} {nxt[0]}"))
            corrected.extend([word, nxt[0]])
            i += 2
            continue
        options: list[Option] = [((term,), 1.0)] if term else []
        fixed = weighed = word
        if typing and i == last:
            done = lexicon.completions(word)
            options += _completed(word, done)
            if done and not lexicon.count(word):
                weighed = done[0][0]
        if term and not lexicon.count(word) and not (typing and i == last and options[1:]):
            if typos < TYPO_WORDS and (fixes := lexicon.corrections(word)):
                typos += 1
                options += [((stem(f),), FUZZY_BOOST) for f in fixes]
                fixed = weighed = fixes[0]
        elif term and lexicon.count(word) and len(word) >= 6:
            options += _split(lexicon, word)
        corrected.append(fixed)
        options = _merge(options)
        if options:
            groups.append(Group(options, word, weighed=weighed))
        i += 1
    groups += _intent(parsed.words[:MAX_WORDS])
    phrases = []
    for phrase in parsed.phrases:
        found = [(pos, t) for pos, _s, _e, t in tokens(" ".join(phrase))]
        if found:
            phrases.append([(pos - found[0][0], t) for pos, t in found])
    wanted = {t for g in groups for terms, _w in g.options for t in terms}
    wanted |= {t for p in phrases for _pos, t in p}
    suggestion = None
    if typos:
        suggestion = " ".join(corrected + [f'"{" ".join(p)}"' for p in parsed.phrases]
                              + [f"tag:{t}" for t in parsed.tags]
                              + [f"kind:{k}" for k in parsed.kinds])
    for group in groups:
        group.rarity = lexicon.rarity(group.weighed or " ".join(
            [group.typed, *([] if lexicon.count(group.typed.split()[0]) else
                            [o[0][0] for o in group.options[1:2]])]))
    only_common = bool(parsed.words) and not groups and not phrases
    return Plan(groups, phrases, parsed.tags, sorted(set(parsed.kinds)), wanted, suggestion,
                only_common)


def _intent(typed: list[str]) -> list[Group]:
    """The group a question's opening asks for (the first such opening only)."""
    for pair in itertools.pairwise(typed):
        if found := INTENTS.get(pair):
            return [Group([((stem(w),), INTENT_BOOST) for w in found], " ".join(pair))]
    return []


def _completed(word: str, done: list[tuple[str, float]]) -> list[Option]:
    """The completions of ``word`` (``Lexicon.completions``) as options."""
    return [((stem(w),), 1.0 if w == word else PREFIX_BOOST * max(share, 0.1))
            for w, share in done]


def _split(lexicon: Lexicon, word: str) -> list[Option]:
    """"rollback" also as "roll back", when the index holds both halves as words; and
    "cybersecurity" also as "security" (``HEAD_BOOST``)."""
    out: list[Option] = []
    for cut in range(3, len(word) - 2):
        head, tail = word[:cut], word[cut:]
        if stem(head) and stem(tail) and lexicon.count(head) and lexicon.count(tail):
            out.append(((stem(head), stem(tail)), 1.0))
            if len(tail) >= HEAD_MIN:
                out.append(((stem(tail),), HEAD_BOOST))
    return out[:3]
