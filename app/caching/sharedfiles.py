"""Small cache files that every worker of one data directory reads and writes.

Rendered pages (``render``) and saves' head moves (``headmoves``) are left on disk for the
other workers.  Each entry is written whole or not at all (a temporary name, then
``os.replace``), a failed write only means the others compute it themselves, and old
entries are pruned now and then on write.  These are caches, so nothing is fsynced.

Each entry is signed: its first line is an HMAC-SHA256, keyed with the app's secret key, of
the entry's file name and its JSON.  What is read back is trusted (rendered pages are served
as safe HTML), so an entry whose signature does not match -- written by anyone who could
write to the data directory but does not hold the key, or copied from another entry's name
-- counts as absent and is computed again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import threading
import time
from pathlib import Path

PRUNE_ONE_WRITE_IN = 64  # pruning reads a whole folder: spread it over writes


def signing_key(secret: str | bytes, purpose: str) -> bytes:
    """The key for one use of the app's secret key: an entry signed for one cache means
    nothing to another."""
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def _signature(key: bytes, name: str, payload: bytes) -> bytes:
    mac = hmac.new(key, name.encode("utf-8", "surrogateescape") + b"\0", hashlib.sha256)
    mac.update(payload)
    return mac.hexdigest().encode()


def write(path: Path, data: object, *, keep_seconds: float, key: bytes) -> None:
    """Store ``data`` as JSON at ``path``, signed with ``key``; now and then drop the
    folder's entries older than ``keep_seconds``.  Never raises for a full or read-only
    disk."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        payload = json.dumps(data).encode("utf-8")
        tmp.write_bytes(_signature(key, path.name, payload) + b"\n" + payload)
        os.replace(tmp, path)  # readers see the whole entry or none
        if random.random() < 1 / PRUNE_ONE_WRITE_IN:
            prune(path.parent, keep_seconds)
    except OSError:
        pass


def read(path: Path, *, key: bytes) -> object | None:
    """The JSON stored at ``path``, or None when absent, damaged or not signed with ``key``."""
    try:
        signature, _, payload = path.read_bytes().partition(b"\n")
        if not hmac.compare_digest(signature, _signature(key, path.name, payload)):
            return None
        return json.loads(payload)
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
