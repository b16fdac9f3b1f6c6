"""Which documents each index write touched, so a cached answer can outlive a write.

Every write of the index gets a new build id (``search_index.write_state``).  An answer
cached at one build is still right at a later one when none of the writes between them
touched a document the answer holds, or one that matches its query (``search.py`` checks
the second).  This log, ``index/CHANGES``, says what each write touched: one JSON line
``[previous build, new build, paths]`` per write, with ``null`` paths for a full build
(after which nothing cached is kept).  It is written under the index lock and trimmed as it
grows; a missing or damaged log only means answers are computed again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

CHANGES_FILE = "CHANGES"
KEEP_LINES = 500  # of the newest writes, when the file is trimmed
TRIM_BYTES = 256 << 10

_read: dict[str, tuple[tuple[int, int], dict[str, tuple[str, frozenset[str] | None]]]] = {}


def record(root: Path, old: str | None, new: str, paths: Iterable[str] | None) -> None:
    """Note that the write making build ``new`` (on top of ``old``) touched ``paths``."""
    path = root / CHANGES_FILE
    line = json.dumps([old, new, sorted(paths) if paths is not None else None]) + "\n"
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line)
        if path.stat().st_size > TRIM_BYTES:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)[-KEEP_LINES:]
            tmp = path.with_name(f".{CHANGES_FILE}.{os.getpid()}")
            tmp.write_text("".join(lines), encoding="utf-8")
            os.replace(tmp, path)
    except OSError:  # answers will simply be computed again
        pass


def between(root: Path, old: str, new: str, *, most: int = 200) -> frozenset[str] | None:
    """Every document the writes from build ``old`` to build ``new`` touched, or None when
    that is unknown (a full build between them, or a gap in the log)."""
    if old == new:
        return frozenset()
    writes = _writes(root / CHANGES_FILE)
    touched: set[str] = set()
    at = new
    for _ in range(most):
        step = writes.get(at)
        if step is None or step[1] is None:
            return None
        touched |= step[1]
        at = step[0]
        if at == old:
            return frozenset(touched)
    return None


def _writes(path: Path) -> dict[str, tuple[str, frozenset[str] | None]]:
    """new build -> (previous build, paths), read again only when the file changed."""
    try:
        st = path.stat()
    except OSError:
        return {}
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _read.get(str(path))
    if hit is not None and hit[0] == stamp:
        return hit[1]
    writes: dict[str, tuple[str, frozenset[str] | None]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    for line in text.splitlines():
        try:
            old, new, paths = json.loads(line)
            writes[str(new)] = (str(old), None if paths is None else frozenset(map(str, paths)))
        except (ValueError, TypeError):
            continue  # a torn line: that link is simply unknown
    _read[str(path)] = (stamp, writes)
    return writes
