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

from app.caching.lru import SizedLRU
from app.content.render import render

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


_FENCE_RE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def blocks(text: str) -> list[str]:
    """Markdown split at blank lines (never inside a fenced code block)."""
    out: list[str] = []
    current: list[str] = []
    fence = None
    for line in text.splitlines():
        match = _FENCE_RE.match(line)
        if match:
            fence = None if fence and match.group(1)[0] == fence else (fence or match.group(1)[0])
        if not line.strip() and fence is None:
            if current:
                out.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        out.append("\n".join(current))
    return out


# Reader-visible lines by Markdown block: the block's text and its lines.
_block_text = SizedLRU(max_bytes=16 << 20, size_of=lambda lines: 2 * sum(map(len, lines)))


def _render_block(block: str) -> tuple[str, ...]:
    """Reader-visible lines of one block, cached: only blocks shown in a diff get rendered."""
    return _block_text.remember(block, lambda: tuple(rendered_lines(block)))


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
    """Compare two texts; unchanged runs longer than 2 x ``context`` units are folded.

    Rendered mode compares Markdown blocks first and renders only the blocks it shows, so
    comparing two versions of a very long policy costs a few small renders, not two big ones.
    """
    rendered = mode == "rendered"
    a = blocks(old) if rendered else old.splitlines()
    b = blocks(new) if rendered else new.splitlines()
    show = _render_block if rendered else (lambda unit: (unit,))
    result = Diff()
    opcodes = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            _equal(result.rows, a, i1, i2, j1, context, show, first=index == 0,
                   last=index == len(opcodes) - 1)
            continue
        left = [(i + 1, line) for i in range(i1, i2) for line in show(a[i])]
        right = [(j + 1, line) for j in range(j1, j2) for line in show(b[j])]
        _changed(result, left, right)
    return result


def _changed(result: Diff, left: list[tuple[int, str]], right: list[tuple[int, str]]) -> None:
    """Rows for a changed run: lines paired by similarity, words highlighted in pairs."""
    a, b = [t for _, t in left], [t for _, t in right]
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                text = escape(a[i1 + k])
                result.rows.append(Row("equal", left[i1 + k][0], text, right[j1 + k][0], text))
            continue
        result.removed += i2 - i1
        result.added += j2 - j1
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(pairs):
            old, new = _words(a[i1 + k], b[j1 + k])
            result.rows.append(Row("change", left[i1 + k][0], old, right[j1 + k][0], new))
        for i in range(i1 + pairs, i2):
            result.rows.append(Row("delete", left[i][0], Markup("<del>%s</del>") % a[i]))
        for j in range(j1 + pairs, j2):
            result.rows.append(Row("insert", right_no=right[j][0],
                                   right=Markup("<ins>%s</ins>") % b[j]))


def _equal(rows: list[Row], a: list[str], i1: int, i2: int, j1: int, context: int, show,
           *, first: bool, last: bool) -> None:
    n = i2 - i1
    keep_head = 0 if first else context
    keep_tail = 0 if last else context
    if n <= keep_head + keep_tail + 1:
        keep_head, keep_tail = n, 0

    def emit(k: int) -> None:
        for line in show(a[i1 + k]):
            text = escape(line)
            rows.append(Row("equal", i1 + k + 1, text, j1 + k + 1, text))

    for k in range(keep_head):
        emit(k)
    hidden = n - keep_head - keep_tail
    if hidden > 0:
        rows.append(Row("skip", left=Markup("%d unchanged %s") % (
            hidden, ("blocks" if show is _render_block else "lines"))))
    for k in range(n - keep_tail, n):
        emit(k)
