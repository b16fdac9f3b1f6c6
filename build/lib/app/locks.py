"""One file-lock helper for every cross-process writer (content saves, the search index)."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: Path, *, timeout: float, on_timeout: Exception,
              poll: float = 0.01) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) or raise ``on_timeout``.

    Each call opens its own file description, so the lock also excludes other threads of
    the same process; the kernel drops it when a holder dies, so a killed worker never
    leaves a stale lock behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise on_timeout from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
