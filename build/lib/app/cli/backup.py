"""Backups: a consistent copy of the SQLite database and a git bundle of the content.

The content repository is the source of truth for documents and the search index is a cache
rebuilt from it, but accounts (and later acknowledgements) live only in SQLite.  The database is
copied with SQLite's online backup API, so the copy is consistent even while workers write.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

from app.repo.gitrepo import GitRepo


def stamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")


def backup_database(db_path: str | Path, dest: Path) -> Path:
    """Copy the live database page by page into ``dest`` (which must not exist)."""
    if dest.exists():
        raise FileExistsError(dest)
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=15)) as src, \
            closing(sqlite3.connect(tmp)) as out:
        src.backup(out)
    tmp.rename(dest)  # a half-written copy never carries the final name
    return dest


def backup_content(repo: GitRepo, dest: Path) -> Path:
    """``git bundle`` of every branch and tag: restore with ``git clone FILE``."""
    if dest.exists():
        raise FileExistsError(dest)
    tmp = dest.with_name(dest.name + ".part")
    repo.git("bundle", "create", "-q", str(tmp), "--all")
    tmp.rename(dest)
    return dest


def run_backup(db_path: str | Path, repo: GitRepo, dest_dir: Path,
               now: dt.datetime | None = None) -> list[Path]:
    dest_dir.mkdir(parents=True, exist_ok=True)
    when = stamp(now)
    return [backup_database(db_path, dest_dir / f"portal-{when}.sqlite3"),
            backup_content(repo, dest_dir / f"content-{when}.bundle")]
