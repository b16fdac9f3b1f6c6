"""Editing (write side): create, edit, rename, delete and restore documents as git commits.

Every write runs under one file lock in ``KB_DATA_DIR`` (so gunicorn workers take turns) and
follows the same steps:

1. write the commit's objects (in-process through pygit2, or with plumbing in a private
   index; the branch and work tree are untouched);
2. write a journal naming the new commit and the files it changes;
3. move the branch only if it is still at the commit the save was built on
   (compare-and-swap: a concurrent ``git commit`` from a shell makes it fail instead of
   being overwritten);
4. replace the work-tree files atomically (temp file + ``os.replace``), bring git's index in
   line with HEAD; drop the journal.

A crash before step 3 leaves the previous version in place (the new objects are merely
unreferenced); a crash after it is finished from the journal by the next writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from app.content.store import AUDIENCES, MAX_BYTES, compose, is_safe_slug, parse, repo, store
from app.history import revisions as history
from app.locks import exclusive
from app.repo.gitrepo import RefMoved, is_valid_rev
from app.repo.headmoves import Commit, Move

LOCK_TIMEOUT = 30.0


class EditError(Exception):
    """A save that cannot go ahead; ``errors`` are shown in the form, the text is kept."""

    def __init__(self, *errors: str):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class Busy(EditError):
    pass


@dataclass
class Conflict(Exception):
    """The document changed since the form was opened: the three texts and a merge."""

    base: str
    theirs: str
    yours: str
    merged: str
    clean: bool
    head: str


@dataclass
class Change:
    """One write: the commit message parts and the author."""

    message: str
    author: str
    note: str = ""
    material: bool = False
    trailers: tuple[tuple[str, str], ...] = ()  # more (key, value) trailers, e.g. Approved-by

    def full_message(self) -> str:
        subject = self.message.strip()
        trailers = []
        note = " ".join(self.note.split())
        if note:
            trailers.append(f"Public-Note: {note}")
        trailers.append(f"Material: {'yes' if self.material else 'no'}")
        trailers.extend(f"{key}: {' '.join(value.split())}" for key, value in self.trailers)
        return f"{subject}\n\n" + "\n".join(trailers) + "\n"

    def ident(self) -> tuple[str, str]:
        return self.author, f"{self.author}@portal.invalid"


# -- the hook tests use to stop a save between two steps ---------------------------------------
def checkpoint(step: str) -> None:
    """Called between the steps of a write; a no-op outside crash tests."""


def _data_dir() -> Path:
    return Path(current_app.config["KB_DATA_DIR"])


@contextlib.contextmanager
def write_lock(timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive across processes and threads (each call opens its own file description)."""
    with exclusive(_data_dir() / "write.lock", timeout=timeout, poll=0.005,
                   on_timeout=Busy("Another save is taking too long; try again.")):
        recover()
        yield


def _journal() -> Path:
    return _data_dir() / "write.journal"


def recover() -> bool:
    """Finish a write a crash interrupted after the branch moved (call under the lock)."""
    journal = _journal()
    if not journal.exists():
        return False
    try:
        plan = json.loads(journal.read_text())
    except (OSError, ValueError):
        journal.unlink(missing_ok=True)
        return False
    git = repo()
    for rel in plan.get("files", {}):  # temp files of a write killed mid-copy
        target = store().root / rel
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            stale.unlink(missing_ok=True)
    finished = plan.get("commit") == git.head()
    if finished:
        data = git.read_blobs([b for b in plan["files"].values() if b])
        _apply({p: (data.get(b) if b else None) for p, b in plan["files"].items()})
        git.sync_index(list(plan["files"]))
    journal.unlink(missing_ok=True)
    return finished


def _apply(files: dict[str, bytes | None]) -> None:
    root = store().root
    for rel, data in files.items():
        target = root / rel
        if data is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def commit_files(files: dict[str, bytes | None], change: Change,
                 check: Callable[[str], None] | None = None,
                 extra_parents: tuple[str, ...] = ()) -> str:
    """Commit ``files`` (path -> new bytes, None = delete) as one commit; returns its id.
    ``extra_parents`` make it a merge (a published proposal).

    ``check(head)`` runs before anything is written and may raise.  The commit is first
    built (check included) on the head seen before taking the lock, so the lock is held
    only to move the branch and the files.  If another save moved HEAD meanwhile, the check
    runs again and the commit is rebuilt under the lock, on the new head.
    """
    git = repo()
    built = None
    head = git.head()
    with contextlib.suppress(EditError):  # perhaps stale: decided again under the lock
        built = _build(head, files, change, check, extra_parents)
    with write_lock():
        if built is None or git.head() != head:
            head = git.head()
            built = _build(head, files, change, check, extra_parents)
        new, blobs, when = built
        checkpoint("committed")
        _write_atomic(_journal(), json.dumps({"commit": new, "files": blobs}))
        checkpoint("journal")
        try:
            git.update_ref(new, head)
        except RefMoved:
            _journal().unlink(missing_ok=True)
            raise EditError("The repository changed while saving; try again.") from None
        checkpoint("ref")
        # This worker's caches learn what changed from here, without asking git.
        git.moves.share(Move(head, new, (Commit(new, when, change.material, tuple(files)),),
                              frozenset(files)))
        _apply(files)
        checkpoint("worktree")
        git.sync_index(list(files))
        _journal().unlink(missing_ok=True)
    return new


def commit_on(ref: str, old: str, files: dict[str, bytes | None], change: Change,
              check: Callable[[str], None] | None = None, *, parent: str = "",
              extra_parents: tuple[str, ...] = ()) -> str:
    """Commit ``files`` onto another branch ``ref`` (a proposal) that is at ``old`` ('' =
    create it on ``parent``); returns the commit.  The same objects and compare-and-swap as
    ``commit_files``, under the same lock; the work tree and HEAD are not touched, so there
    is nothing to journal.  ``check(parent)`` runs under the lock and may raise.
    """
    git = repo()
    with write_lock():
        new, _blobs, _when = _build(old or parent, files, change, check, extra_parents)
        try:
            git.update_ref(new, old, ref)
        except RefMoved:
            raise EditError("The proposal changed while saving; reload it and try again."
                            ) from None
    return new


def _build(head: str, files: dict[str, bytes | None], change: Change,
           check: Callable[[str], None] | None, extra_parents: tuple[str, ...] = ()
           ) -> tuple[str, dict[str, str | None], dt.datetime]:
    """Check, then write the objects of a commit on ``head``: (commit, path -> blob, date).

    Nothing refers to these objects until the branch moves, so building them needs no lock.
    """
    git = repo()
    if check:
        check(head)
    blobs = {p: (git.hash_object(d) if d is not None else None) for p, d in files.items()}
    # Per thread: two threads of one worker may build at once.
    tmp_index = _data_dir() / f"write-index.{os.getpid()}.{threading.get_ident()}"
    when = dt.datetime.now().astimezone().replace(microsecond=0)
    new = git.make_commit(head, blobs, change.full_message(), author=change.ident(),
                          tmp_index=tmp_index, when=when, extra_parents=extra_parents)
    return new, blobs, when


# -- validation --------------------------------------------------------------------------------
def validate(kind: str, slug: str, text: str) -> list[str]:
    """Problems that block a save: unsafe slug, unreadable front matter, bad audience."""
    errors = []
    if not is_safe_slug(slug):
        errors.append("The address may use letters, digits, '-', '_', '.' and '/' only.")
        return errors
    if len(text.encode()) > MAX_BYTES:
        errors.append(f"The document is larger than {MAX_BYTES:,} bytes.")
    doc = parse(text, kind=kind, slug=slug, path=f"{slug}.md")
    errors.extend(p.message if not p.line else f"line {p.line}: {p.message}"
                  for p in doc.problems)
    if doc.meta.get("audience", "internal") not in AUDIENCES:
        errors.append("Audience must be public or internal.")
    return list(dict.fromkeys(errors))


def compose_form(fields: dict[str, str], body: str, extra_meta: dict | None = None) -> str:
    """Front matter from the form fields (dates typed as dates when they parse)."""
    meta = dict(extra_meta or {})
    for name in ("title", "summary", "audience", "owner"):
        meta[name] = (fields.get(name) or "").strip()
    meta["tags"] = [t.strip() for t in (fields.get("tags") or "").split(",") if t.strip()]
    for name in ("effective", "review_by"):
        value = (fields.get(name) or "").strip()
        try:
            meta[name] = dt.date.fromisoformat(value) if value else ""
        except ValueError:
            meta[name] = value  # kept as typed; validation reports it
    return compose(meta, body.replace("\r\n", "\n"))


# -- operations --------------------------------------------------------------------------------
def path_of(kind: str, slug: str) -> str:
    """The repository path of document ``kind``/``slug``; EditError when it cannot be one."""
    target = store().rel_for(kind, slug) if is_safe_slug(slug) else None
    if target is None:
        raise EditError("That address cannot hold a document.")
    return target



def _require_message(change: Change) -> None:
    if not change.message.strip():
        raise EditError("Describe the change in the commit message.")


def save(kind: str, slug: str, text: str, *, base_rev: str, change: Change) -> str:
    """Save an edit made on top of ``base_rev``; raise Conflict when the file moved on."""
    path = path_of(kind, slug)
    errors = validate(kind, slug, text)
    if not change.message.strip():
        errors.append("Describe the change in the commit message.")
    if not is_valid_rev(base_rev):
        errors.append("The form is missing the revision it was based on; reload the page.")
    if errors:
        raise EditError(*errors)
    git = repo()
    data = text.encode()

    def check(head: str) -> None:
        base_blob, head_blob = git.blobs_at([(base_rev, path), (head, path)])
        if base_blob != head_blob:
            blobs = git.read_blobs([base_blob, head_blob])
            base, theirs = blobs.get(base_blob, b""), blobs.get(head_blob, b"")
            merged, clean = git.merge_file(data, base, theirs, _data_dir())
            raise Conflict(base.decode(errors="replace"), theirs.decode(errors="replace"),
                           text, merged.decode(errors="replace"), clean, head)
        if not head_blob:
            raise EditError("This document no longer exists; restore it from its history.")
        if git.hash_object_dry(data) == head_blob:
            raise EditError("Nothing changed: the text is the same as the current version.")

    return commit_files({path: data}, change, check)


def create(kind: str, slug: str, text: str, *, change: Change) -> str:
    path = path_of(kind, slug)
    errors = validate(kind, slug, text)
    if errors:
        raise EditError(*errors)
    _require_message(change)

    def check(head: str) -> None:
        if repo().blob_at(head, path) or (store().root / path).exists():
            raise EditError(f"A document already exists at {path}.")

    return commit_files({path: text.encode()}, change, check)


def rename(kind: str, slug: str, new_slug: str, *, change: Change) -> str:
    old, new = path_of(kind, slug), path_of(kind, new_slug)
    _require_message(change)
    git = repo()
    files: dict[str, bytes | None] = {old: None}

    def check(head: str) -> None:
        if git.blob_at(head, new) or (store().root / new).exists():
            raise EditError(f"A document already exists at {new}.")
        data = git.read_file(head, old)
        if data is None:
            raise EditError("This document no longer exists.")
        files[new] = data  # read under the lock, so a concurrent edit is carried along

    return commit_files(files, change, check)


def delete(kind: str, slug: str, *, change: Change) -> str:
    path = path_of(kind, slug)
    _require_message(change)

    def check(head: str) -> None:
        if not repo().blob_at(head, path):
            raise EditError("This document is already deleted.")

    return commit_files({path: None}, change, check)


def restore(kind: str, slug: str, rev: str, *, change: Change) -> str:
    """Make the text of revision ``rev`` the current version, as a new commit."""
    path = path_of(kind, slug)
    _require_message(change)
    target = history.find(history.revisions(path), rev)
    if target is None or target.deleted:
        raise EditError("That revision does not exist or has no text to restore.")
    data = repo().read_blobs([target.entry.blob]).get(target.entry.blob)
    if data is None:
        raise EditError("That revision could not be read.")

    def check(head: str) -> None:
        if repo().blob_at(head, path) == target.entry.blob:
            raise EditError("That revision is already the current version.")

    return commit_files({path: data}, change, check)
