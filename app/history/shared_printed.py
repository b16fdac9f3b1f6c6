"""The public revision a page prints, left on disk for the other workers (``sharedfiles``).

Finding it walks the file's history (``git log`` of the file, then its blobs' public
projections): every worker did that once for every page, and again after each restart or
recycle.  The answer is a pure function of the document (kind, slug, file) and HEAD, so the
worker that walked leaves ``(head, commit)`` for the document; another worker reads it and,
when HEAD has moved since, carries it over the move as it would its own (``changelog``).
Entries are signed with the secret key; one that does not verify, or is damaged, counts as
absent and the history is walked again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from flask import current_app

from app.caching import sharedfiles
from app.repo.gitrepo import Change

KEEP_SECONDS = 7 * 86400  # entries unread for a week are pruned (a walk brings them back)


def _where(kind: str, slug: str, path: str) -> tuple[Path, bytes]:
    config = current_app.config
    name = hashlib.sha256(f"{kind}:{slug}\0{path}".encode()).hexdigest()
    key = current_app.extensions.get("kb_printed_key")
    if key is None:
        key = sharedfiles.signing_key(config["SECRET_KEY"], "public revisions")
        current_app.extensions["kb_printed_key"] = key
    return Path(config["KB_DATA_DIR"]) / "printed" / name[:2] / name, key


def read(kind: str, slug: str, path: str) -> tuple[str, Change | None] | None:
    """(head, the public revision at that head) as a worker left it, or None."""
    where, key = _where(kind, slug, path)
    data = sharedfiles.read(where, key=key)
    try:
        if data["doc"] != [kind, slug, path]:
            return None
        change = (Change(data["sha"], dt.datetime.fromisoformat(data["when"]))
                  if data["sha"] else None)
        return str(data["head"]), change
    except (KeyError, TypeError, ValueError):
        return None


def write(kind: str, slug: str, path: str, found: tuple[str, Change | None]) -> None:
    head, change = found
    where, key = _where(kind, slug, path)
    sharedfiles.write(where, {"doc": [kind, slug, path], "head": head,
                              "sha": change.sha if change else None,
                              "when": change.when.isoformat() if change else None},
                      keep_seconds=KEEP_SECONDS, key=key)
