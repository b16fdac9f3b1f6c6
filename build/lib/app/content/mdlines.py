"""Line-level Markdown facts shared by every reader of the source: where code fences are.

Internal-block markers, section headings and prose sentences inside fenced code are text,
not structure; all readers must agree on what "inside a fence" means.  A fence that is
never closed is not a fence (Markdown renders it as plain text), so it must not hide an
``::: internal`` marker that follows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FENCE_RE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def with_code_flags(lines: Iterable[str]) -> list[tuple[str, bool]]:
    """Each line with True when it is a fence line or inside a *closed* fenced block."""
    lines = list(lines)
    flags = [False] * len(lines)
    i = 0
    while i < len(lines):
        opening = FENCE_RE.match(lines[i])
        close = _closing(lines, i, opening.group(1)) if opening else None
        if close is None:
            i += 1
            continue
        flags[i:close + 1] = [True] * (close + 1 - i)
        i = close + 1
    return list(zip(lines, flags, strict=True))


def _closing(lines: list[str], start: int, marker: str) -> int | None:
    for j in range(start + 1, len(lines)):
        match = FENCE_RE.match(lines[j])
        if match and match.group(1)[0] == marker[0] and len(match.group(1)) >= len(marker):
            return j
    return None
