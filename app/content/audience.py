"""Audience projection: the only place that knows who may see what.

Every output path (pages, search, snippets, API, history, diffs, feeds, sitemap) asks
``visible`` and ``project`` here and receives text that is already safe for its viewer.
Filtering happens on the Markdown source, before rendering or indexing, so a bug in a
template or a CSS rule can never leak an internal paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from app.caching.lru import SizedLRU

if TYPE_CHECKING:
    from app.content.document import Document

# Any indentation: a marker indented into a list item must still hide what follows.
_OPEN_RE = re.compile(r"^[ \t]*:{3,}[ \t]*internal[ \t]*$", re.I)
_CLOSE_RE = re.compile(r"^[ \t]*:{3,}[ \t]*$")
_ANY_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})")  # any indent: fences in list items too
# The admonition that looks like the "Agents only" callout, written by an author: only
# ``::: internal`` hides text, so this one is hidden too (and reported), never published.
_SPOOF_RE = re.compile(r"^([ \t]*)!!![ \t]*(?:[\w-]+[ \t]+)*agents-only(?![\w-])", re.I)
AGENTS_ONLY_TITLE = "Agents only"
SPOOF_MESSAGE = ("'!!! agents-only' does not hide text: only '::: internal' ... ':::' does. "
                 "This block is treated as internal")
PUBLIC_FIELDS = ("title", "summary", "audience", "tags", "effective")


@dataclass(frozen=True)
class Viewer:
    """Who is looking.  ``as_customer`` lets staff preview exactly the public projection."""

    is_staff: bool = False
    as_customer: bool = False

    @property
    def sees_internal(self) -> bool:
        return self.is_staff and not self.as_customer


PUBLIC = Viewer()
STAFF = Viewer(is_staff=True)


@dataclass(frozen=True)
class Block:
    internal: bool
    lines: tuple[str, ...]
    start_line: int  # 1-based line of the block's first line in the body


def split_blocks(body: str) -> tuple[list[Block], list[tuple[int, str]]]:
    """Split a body into public and internal blocks; also return problems found.

    Every reading errs on the side of hiding:

    * an opening ``::: internal`` counts wherever it stands, even inside what looks like a
      code sample: deciding what Markdown will render as code is exactly where a projection
      and a renderer could disagree, and such a disagreement must never publish a secret;
    * inside an internal block, a ``:::`` within fenced code does not close the block (the
      block may show syntax examples), and a fence that never closes keeps the rest internal;
    * an unclosed internal block runs to the end of the document;
    * an ``!!! agents-only`` admonition (the look of the callout, not the rule) is an
      internal block too: it and every following line that is blank or indented deeper
      than it, reported as a problem.
    """
    blocks: list[Block] = []
    problems: list[tuple[int, str]] = []
    current: list[str] = []
    internal = False
    start = 1
    opened_at = 0
    fence: str | None = None  # only tracked inside internal blocks
    spoof: int | None = None  # indentation of an "!!! agents-only" line being hidden
    for number, line in enumerate(body.splitlines(), start=1):
        if spoof is not None:
            if not line.strip() or _indent(line) > spoof:
                current.append(line)
                continue
            blocks.append(Block(True, _dedent(current), start))
            current, start, spoof = [], number, None
        if not internal:
            if _OPEN_RE.match(line):
                blocks.append(Block(False, tuple(current), start))
                current, internal, start, opened_at, fence = [], True, number + 1, number, None
            elif match := _SPOOF_RE.match(line):
                blocks.append(Block(False, tuple(current), start))
                current, start, spoof = [], number + 1, _indent(match.group(1))
                problems.append((number, SPOOF_MESSAGE))
            else:
                current.append(line)
            continue
        fence_match = _ANY_FENCE_RE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
        elif fence is None and _CLOSE_RE.match(line):
            blocks.append(Block(True, tuple(current), start))
            current, internal, start = [], False, number + 1
            continue
        current.append(line)
    if internal:
        problems.append((opened_at, "'::: internal' is never closed with ':::'; "
                                    "the rest of the document is treated as internal"))
    if spoof is not None:
        blocks.append(Block(True, _dedent(current), start))
    else:
        blocks.append(Block(internal, tuple(current), start))
    return [b for b in blocks if b.lines or b.internal], problems


def _indent(text: str) -> int:
    return len(text.expandtabs(4)) - len(text.expandtabs(4).lstrip(" \t"))


def _dedent(lines: list[str]) -> tuple[str, ...]:
    """The body of a hidden admonition, moved left so that it reads as it was meant."""
    width = min((_indent(line) for line in lines if line.strip()), default=0)
    return tuple(line.expandtabs(4)[width:] if line.strip() else "" for line in lines)


# Projected bodies by (audience, body), per worker; see ``project_body``.
_PROJECTED = SizedLRU(max_items=4096, max_bytes=32 << 20,
                      size_of=lambda text: 2 * len(text) + 200)


def project_body(body: str, *, sees_internal: bool) -> str:
    """The Markdown a viewer may read.

    Public viewers get internal blocks removed (replaced by a blank line so paragraphs on
    either side stay apart).  Staff get them as an "Agents only" admonition, indented so that
    any Markdown inside keeps working.

    Remembered per worker by (audience, body): every page view projects a stored body, and
    the answer depends on nothing else.
    """
    return _PROJECTED.remember((sees_internal, body),
                               lambda: _project_body(body, sees_internal))


def _project_body(body: str, sees_internal: bool) -> str:
    if ":::" not in body and "!!!" not in body:
        # No line can open an internal block (``_OPEN_RE`` needs ":::", ``_SPOOF_RE``
        # "!!!"): the body is one public block, for every viewer.  The same text as the
        # loop below gives, without matching two patterns on every line (a full search
        # build projects 10,000 documents twice).
        return "\n".join(body.splitlines()) + "\n"
    blocks, _ = split_blocks(body)
    out: list[str] = []
    for block in blocks:
        if not block.internal:
            out.extend(block.lines)
        elif sees_internal:
            out.extend(["", f'!!! agents-only "{AGENTS_ONLY_TITLE}"'])
            out.extend(("    " + line) if line.strip() else "" for line in block.lines)
            out.append("")
        else:
            out.append("")
    return "\n".join(out) + "\n"


def visible(doc: Document, *, viewer: Viewer) -> bool:
    """May this viewer know that ``doc`` exists at all?"""
    return viewer.sees_internal or doc.is_public


def project(doc: Document, *, viewer: Viewer) -> Document | None:
    """The document as this viewer may see it, or None when it must not exist for them."""
    if not visible(doc, viewer=viewer):
        return None
    body = project_body(doc.body, sees_internal=viewer.sees_internal)
    if viewer.sees_internal:
        return replace(doc, body=body)
    # Ownership, review state and parse problems are staff business.
    public_meta = {k: doc.meta[k] for k in PUBLIC_FIELDS if k in doc.meta}
    return replace(doc, body=body, owner="", review_by=None, meta=public_meta, problems=[])


def project_text(text: str, *, audience: str, viewer: Viewer) -> str | None:
    """Project a raw body given its audience (used for old revisions from history)."""
    if not viewer.sees_internal and audience != "public":
        return None
    return project_body(text, sees_internal=viewer.sees_internal)


def callout_warnings(body: str) -> list[str]:
    """What the editor says about ``!!! agents-only`` admonitions in ``body`` (by line)."""
    return [f"Line {line}: {message}." for line, message in split_blocks(body)[1]
            if message == SPOOF_MESSAGE]


def has_internal_blocks(body: str) -> bool:
    return any(b.internal for b in split_blocks(body)[0])


def as_read(body: str) -> str:
    """A projected body as a reader sees it: an internal block removed leaves blank lines,
    and blank lines and trailing spaces do not change what Markdown shows.  Two versions
    whose ``as_read`` is equal read the same (the changelog and the approval rules use it)."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in body.splitlines())
                  ).strip("\n")
