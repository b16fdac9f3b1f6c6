"""Line-level Markdown facts shared by every reader of the source: where code fences are.

Internal-block markers, section headings and prose sentences inside fenced code are text,
not structure; all three readers must agree on what "inside a fence" means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

FENCE_RE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def with_code_flags(lines: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """Each line with True when it is a fence line or inside fenced code."""
    fence: str | None = None
    for line in lines:
        match = FENCE_RE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            yield line, True
        else:
            yield line, fence is not None
