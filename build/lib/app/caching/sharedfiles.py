"""Small cache files that every worker of one data directory reads and writes.

Rendered pages (``render``) and saves' head moves (``headmoves``) are left on disk for the
other workers.  Each entry is written whole or not at all (a temporary name, then
``os.replace``), a failed write only means the others compute it themselves, and old
entries are pruned now and then on write.  These are caches, so nothing is fsynced.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

PRUNE_ONE_WRITE_IN = 64  # pruning reads a whole folder: spread it over writes


def write(path: Path, data: object, *, keep_seconds: float) -> None:
    """Store ``data`` as JSON at ``path``; now and then drop the folder's entries older
    than ``keep_seconds``.  Never raises for a full or read-only disk."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(data), "utf-8")
        os.replace(tmp, path)  # readers see the whole entry or none
        if random.random() < 1 / PRUNE_ONE_WRITE_IN:
            prune(path.parent, keep_seconds)
    except OSError:
        pass


def read(path: Path) -> object | None:
    """The JSON stored at ``path``, or None when absent or damaged."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def prune(folder: Path, keep_seconds: float) -> None:
    """Drop entries of ``folder`` written more than ``keep_seconds`` ago."""
    cutoff = time.time() - keep_seconds
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass
