"""Parsing ``git log --raw -z`` output into ``LogEntry`` records (no git runs here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class LogEntry:
    """One commit that touched a file, as ``git log --follow --raw`` reports it."""

    sha: str
    author: str
    email: str
    when: dt.datetime
    subject: str
    note: str  # the Public-Note trailer ('' when absent)
    material: bool  # the Material trailer
    status: str  # A, M, D, R (rename) or C
    path: str  # the file's path after this commit
    old_path: str
    blob: str  # blob after this commit ('' when deleted)
    old_blob: str  # blob before ('' when added)


def _header(fields: list[str]) -> dict:
    sha, author, email, when, subject, note, material = fields[:7]
    return {"sha": sha, "author": author, "email": email,
            "when": dt.datetime.fromisoformat(when), "subject": subject,
            "note": note.strip(), "material": material.strip().lower() == "yes"}


def raw_changes(raw: str) -> list[tuple[str, str, str, str, str]]:
    """Parse ``--raw -z`` output into (status, old_blob, new_blob, old_path, path)."""
    parts = raw.split("\0")
    changes = []
    i = 0
    while i < len(parts):
        item = parts[i].strip("\n")
        if not item.startswith(":"):
            i += 1
            continue
        meta = item[1:].split()
        status = meta[4][0] if len(meta) > 4 else "M"
        old_blob = "" if set(meta[2]) == {"0"} else meta[2]
        new_blob = "" if set(meta[3]) == {"0"} else meta[3]
        if status in "RC":
            old_path, path = parts[i + 1], parts[i + 2]
            i += 3
        else:
            old_path = path = parts[i + 1]
            i += 2
        changes.append((status, old_blob, new_blob, old_path, path))
    return changes


def _split_records(out: str):
    for record in out.split("\x1e")[1:]:
        fields = record.split("\x1f")
        if len(fields) >= 8:
            yield _header(fields), fields[7]


def parse_log(out: str, path: str) -> list[LogEntry]:
    entries = []
    for head, raw in _split_records(out):
        changes = raw_changes(raw)
        if not changes:
            continue
        status, old_blob, new_blob, old_path, new_path = changes[0]
        entries.append(LogEntry(**head, status=status, path=new_path, old_path=old_path,
                                blob=new_blob, old_blob=old_blob))
    return entries


def parse_commits(out: str) -> list[tuple[LogEntry, ...]]:
    commits = []
    for head, raw in _split_records(out):
        commits.append(tuple(
            LogEntry(**head, status=status, path=path, old_path=old_path, blob=new_blob,
                     old_blob=old_blob)
            for status, old_blob, new_blob, old_path, path in raw_changes(raw)))
    return commits
