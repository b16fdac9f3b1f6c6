"""Clarity checks from the policy-writing rules: be precise, keep it short, use plain language.

Findings are advice shown in the editor preview and on the owners' dashboard; they never
block a save.  Everything here is a pure function of text, so it is easy to test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.content.mdlines import with_code_flags

VAGUE_PHRASES = {
    "as soon as possible": "say when: “within 2 working days”",
    "asap": "say when: “within 2 working days”",
    "in a timely manner": "give the deadline: “within 24 hours”",
    "in due course": "give the deadline: “by 5 pm the next working day”",
    "at your earliest convenience": "give the deadline: “within 7 days”",
    "without undue delay": "give the deadline: “within 30 days”",
    "quickly": "say how fast: “within 24 hours”",
    "promptly": "say how fast: “within 4 hours”",
    "shortly": "say when: “within 10 minutes”",
    "soon": "say when: “within 3 working days”",
}
PUBLIC_GRADE_TARGET = 9.0
LONG_SENTENCE_WORDS = 35
LONG_DOCUMENT_WORDS = 1000  # about two printed pages

_VAGUE_RE = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(VAGUE_PHRASES, key=len, reverse=True))
    + r")\b", re.I)
# A number or a spelled-out quantity makes a promise precise ("quickly, within 24 hours").
_PRECISE_RE = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|"
    r"same day|next (working |business )?day|today|tomorrow)\b", re.I)
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9“\"(])")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+(?:[.,]\d+)*")
_LIST_ITEM_RE = re.compile(r"^([-*+]|\d+[.)]|:)\s+(\[[ xX]\]\s+)?")
_MARKUP_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|[*_`]+|<[^>]+>")


@dataclass(frozen=True)
class Finding:
    rule: str  # vague | grade | long-sentence | length | jargon
    message: str
    hint: str = ""
    excerpt: str = ""


def prose_sentences(markdown: str) -> list[str]:
    """Sentences of running text: no code, table rows, headings or markers."""
    lines: list[str] = []
    for line, code in with_code_flags(markdown.splitlines()):
        stripped = line.strip()
        if (code or not stripped or stripped.startswith(("|", "#", ":::", "!!!", "---"))
                or set(stripped) <= set("-|: ")):
            lines.append("")  # a paragraph break
            continue
        item = _LIST_ITEM_RE.match(stripped)
        if item:  # each list item is a sentence of its own, punctuated or not
            lines.append("")
            stripped = stripped[item.end():]
        lines.append(_MARKUP_RE.sub(lambda m: m.group(1) or "", stripped))
    sentences: list[str] = []
    for paragraph in "\n".join(lines).split("\n\n"):
        text = " ".join(paragraph.split())
        if text:
            sentences.extend(s.strip() for s in _SENTENCE_END_RE.split(text) if s.strip())
    return sentences


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


def syllables(word: str) -> int:
    """Heuristic English syllable count (good enough for a readability grade)."""
    word = word.lower().strip("'’-")
    if word.isdigit():
        return max(1, len(word) // 2)
    if len(word) <= 3:
        return 1
    word = re.sub(r"(?:[^laeiouy]es|ed|[^laeiouy]e)$", "", word)
    word = re.sub(r"^y", "", word)
    return max(1, len(re.findall(r"[aeiouy]{1,2}", word)))


def reading_grade(sentences: list[str]) -> float | None:
    """Flesch–Kincaid grade level; None for text too short to judge."""
    all_words = [w for s in sentences for w in words(s)]
    if len(all_words) < 30 or not sentences:
        return None
    syl = sum(syllables(w) for w in all_words)
    grade = 0.39 * len(all_words) / len(sentences) + 11.8 * syl / len(all_words) - 15.59
    return round(max(grade, 0.0), 1)


def vague_promises(sentences: list[str]) -> list[Finding]:
    found = []
    for sentence in sentences:
        match = _VAGUE_RE.search(sentence)
        if match and not _PRECISE_RE.search(sentence):
            phrase = match.group(1).lower()
            found.append(Finding("vague", f"Vague promise: “{match.group(1)}”",
                                 VAGUE_PHRASES[phrase], sentence))
    return found


def undefined_jargon(text: str, jargon: list[dict]) -> list[Finding]:
    """Jargon used but never spelled out, e.g. "AHT" without "average handling time"."""
    found = []
    for entry in jargon:
        term, hint = str(entry.get("term", "")).strip(), str(entry.get("hint", "")).strip()
        if not term:
            continue
        if not re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", text):
            continue
        defined = hint and hint.lower() in text.lower()
        if not defined:
            found.append(Finding("jargon", f"Jargon “{term}” is not explained",
                                 f"write it out: “{hint}”" if hint else "explain it or remove it",
                                 term))
    return found


def check(markdown: str, *, public_text: str | None = None,
          jargon: list[dict] | None = None) -> list[Finding]:
    """All findings for one document.

    ``public_text`` is the public projection of a public document: the reading grade target
    applies to what customers read.
    """
    sentences = prose_sentences(markdown)
    findings = vague_promises(sentences)
    for sentence in sentences:
        count = len(words(sentence))
        if count > LONG_SENTENCE_WORDS:
            findings.append(Finding("long-sentence", f"Sentence of {count} words",
                                    f"split it: aim for {LONG_SENTENCE_WORDS} words or fewer",
                                    sentence))
    total = sum(len(words(s)) for s in sentences)
    if total > LONG_DOCUMENT_WORDS:
        findings.append(Finding("length", f"{total} words: longer than about two printed pages",
                                "move detail into a separate document or an FAQ"))
    if public_text is not None:
        grade = reading_grade(prose_sentences(public_text))
        if grade is not None and grade > PUBLIC_GRADE_TARGET:
            target = f"{PUBLIC_GRADE_TARGET:g}"
            findings.append(Finding("grade", f"Reading grade {grade} (target {target} "
                                             "or lower for public documents)",
                                    "use shorter sentences and everyday words"))
    if jargon:
        findings.extend(undefined_jargon(" ".join(sentences), jargon))
    return findings
