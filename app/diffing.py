"""Diffs between two texts: line rows for side-by-side and inline views, words highlighted.

Inputs are texts the viewer may already see (the caller projects them through ``audience``).
Two modes: ``source`` compares the Markdown; ``rendered`` compares the text a reader sees,
one line per paragraph, list item, heading or table row.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from markupsafe import Markup, escape

from .render import render

MODES = ("rendered", "source")
VIEWS = ("side", "inline")
CONTEXT = 3
_TOKEN_RE = re.compile(r"\s+|\w+|[^\w\s]", re.U)


_EMPTY = Markup("")


@dataclass(frozen=True)
class Row:
    op: str  # equal, delete, insert, change, skip
    left_no: int | None = None
    left: Markup = _EMPTY
    right_no: int | None = None
    right: Markup = _EMPTY


@dataclass
class Diff:
    rows: list[Row] = field(default_factory=list)
    added: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "dt", "dd", "pre", "br",
           "blockquote", "div", "table", "ul", "ol", "hr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip = 0

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.lines.append(text)
        self.current = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and ("class", "headerlink") in attrs:
            self.skip += 1  # the "#" permalink is chrome, not content
        elif tag in _BLOCKS:
            self._flush()
        elif tag in ("td", "th"):
            self.current.append(" | ")

    def handle_endtag(self, tag):
        if tag == "a" and self.skip:
            self.skip -= 1
        elif tag in _BLOCKS:
            self._flush()

    def handle_data(self, data):
        if not self.skip:
            self.current.append(data)


def rendered_lines(markdown_text: str) -> list[str]:
    parser = _Text()
    parser.feed(render(markdown_text).html)
    parser.close()
    parser._flush()
    return parser.lines


def _lines(text: str, mode: str) -> list[str]:
    return rendered_lines(text) if mode == "rendered" else text.splitlines()


def _words(old: str, new: str) -> tuple[Markup, Markup]:
    a, b = _TOKEN_RE.findall(old), _TOKEN_RE.findall(new)
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old_part, new_part = escape("".join(a[i1:i2])), escape("".join(b[j1:j2]))
        if op == "equal":
            left.append(old_part)
            right.append(new_part)
            continue
        if old_part:
            left.append(Markup("<del>%s</del>") % old_part)
        if new_part:
            right.append(Markup("<ins>%s</ins>") % new_part)
    return Markup("").join(left), Markup("").join(right)


def diff(old: str, new: str, *, mode: str = "source", context: int = CONTEXT) -> Diff:
    """Compare two texts; unchanged runs longer than 2 x ``context`` lines are folded."""
    a, b = _lines(old, mode), _lines(new, mode)
    result = Diff()
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            _equal(result.rows, a, i1, i2, j1, context)
            continue
        result.removed += i2 - i1
        result.added += j2 - j1
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(pairs):
            left, right = _words(a[i1 + k], b[j1 + k])
            result.rows.append(Row("change", i1 + k + 1, left, j1 + k + 1, right))
        for i in range(i1 + pairs, i2):
            result.rows.append(Row("delete", i + 1, Markup("<del>%s</del>") % a[i]))
        for j in range(j1 + pairs, j2):
            result.rows.append(Row("insert", right_no=j + 1,
                                   right=Markup("<ins>%s</ins>") % b[j]))
    return result


def _equal(rows: list[Row], a: list[str], i1: int, i2: int, j1: int, context: int) -> None:
    n = i2 - i1
    first, last = not rows, i2 == len(a)
    keep_head = 0 if first else context
    keep_tail = 0 if last else context
    if n <= keep_head + keep_tail + 1:
        keep_head, keep_tail = n, 0
    for k in range(keep_head):
        rows.append(Row("equal", i1 + k + 1, escape(a[i1 + k]), j1 + k + 1, escape(a[i1 + k])))
    hidden = n - keep_head - keep_tail
    if hidden > 0:
        rows.append(Row("skip", left=Markup("%d unchanged lines") % hidden))
    for k in range(n - keep_tail, n):
        rows.append(Row("equal", i1 + k + 1, escape(a[i1 + k]), j1 + k + 1, escape(a[i1 + k])))
