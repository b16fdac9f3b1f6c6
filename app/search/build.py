"""Full builds of both search indexes, written beside the old ones and swapped in.

Each document is projected once per index and handed to tantivy's writers, whose own
threads do the indexing: no process pool, so a rebuild inside a threaded gunicorn worker
never forks (a child could inherit a lock another thread holds).

The public index gets the version of each document in force today (``in_force``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import tantivy

from app.content.document import Document
from app.history.in_force import InForce
from app.search.analysis import register
from app.search.index import AUDIENCES, SCHEMA, records_of, shown_to, write_state

# Bytes of writer memory per index, and indexing threads per index.  Enough memory for
# tantivy to hold a 10,000-document index in one segment until the single commit: with
# less, it flushes many small segments and then spends the rest of the build merging them
# (96 MB and 2 threads: 41 s at 10,000 documents; 400 MB and 1 thread: 17 s).  The arena
# grows as needed (about 260 MB resident for the whole 10,000-document build).  One
# thread per index: the two indexes are written side by side, which already keeps both
# cores busy beside the Python that makes the records.
BUILD_HEAP = 400_000_000
BUILD_THREADS = 1


Made = tuple[tantivy.Document, list[tantivy.Document]]  # the document record, its places


def _made(doc: Document, dates: InForce) -> dict[str, Made]:
    """Index name -> the tantivy records of ``doc`` for it (none where it must not exist).

    When the public view (of the version in force) is the same as the staff view (a
    public page without internal blocks or staff-only fields, most public pages), its
    records are the staff ones: ``records_of`` depends on nothing but the ``Shown``, so
    they are made once for both indexes, not twice."""
    staff = shown_to(doc, AUDIENCES["staff"])
    version = dates.public_version(doc)
    public = shown_to(version, AUDIENCES["public"]) if version is not None else None
    out: dict[str, Made] = {}
    for name, shown in (("staff", staff), ("public", public)):
        if shown is None:
            continue
        if name == "public" and "staff" in out and shown == staff:
            out[name] = out["staff"]
            continue
        recs = records_of(shown)
        out[name] = (tantivy.Document.from_dict(recs[0], SCHEMA),
                     [tantivy.Document.from_dict(r, SCHEMA) for r in recs[1:]])
    return out


def add(writer: tantivy.IndexWriter, record: tantivy.Document) -> None:
    """Hand one record to a writer (the one place a build writes; tests make it fail)."""
    writer.add_document(record)


def _add_places(writers: dict[str, tantivy.IndexWriter],
                places: dict[str, list[tantivy.Document]]) -> None:
    """Hand the waiting places to their writers, the indexes in step (each in the same
    order as before): one index after the other left one writer thread idle while the
    other worked through its queue."""
    names = list(places)
    total = max(1, sum(len(p) for p in places.values()))
    sent = dict.fromkeys(names, 0)
    for step in range(1, total + 1):
        for name in names:
            due = len(places[name]) * step // total  # this index's share of the first steps
            while sent[name] < due:
                add(writers[name], places[name][sent[name]])
                sent[name] += 1


def build(root: Path, docs: list[Document], head: str, dates: InForce,
          progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Rebuild both indexes from ``docs`` (the committed documents at ``head``).

    The caller holds ``index.locked(root)``.  The new indexes are written next to the old
    ones and then swapped in, so searches keep working during a rebuild.  Returns the
    number of records written per index."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".build-{uuid.uuid4().hex[:8]}"
    counts = dict.fromkeys(AUDIENCES, 0)
    writers: dict[str, tantivy.IndexWriter] = {}
    try:
        for name in AUDIENCES:
            (tmp / name).mkdir(parents=True)
            index = register(tantivy.Index(SCHEMA, path=str(tmp / name)))
            writers[name] = index.writer(heap_size=BUILD_HEAP, num_threads=BUILD_THREADS)
        # Every document record first, then every place record, each kind in the order of
        # ``docs``: one writer thread keeps that order in the segment, so a search of one
        # kind of record (they all name a ``level``) stops at the end of its own run of
        # documents instead of reading the other kind's postings (the document search
        # takes half the time).  Within each kind the order is the same as writing each
        # document's records together, so ties between equal scores fall the same way.
        # The places wait as tantivy documents, not dicts: tens of thousands of live dicts
        # made Python's garbage collector rescan them all, again and again.
        places: dict[str, list[tantivy.Document]] = {name: [] for name in AUDIENCES}
        for doc in docs:
            made = _made(doc, dates)
            for name, (whole, parts) in made.items():
                add(writers[name], whole)
                places[name] += parts
                counts[name] += 1 + len(parts)
            if progress:
                progress(1)
        _add_places(writers, places)
        places.clear()
        for writer in list(writers.values()):
            writer.commit()
        while writers:  # merges finish in the build's own directory, before the swap
            writers.popitem()[1].wait_merging_threads()
        for name in AUDIENCES:
            old = root / f".old-{name}-{uuid.uuid4().hex[:6]}"
            if (root / name).exists():
                os.replace(root / name, old)
            os.replace(tmp / name, root / name)
            shutil.rmtree(old, ignore_errors=True)
        write_state(root, head, dates.due)
    finally:
        for writer in writers.values():  # a failed build: free its threads and memory
            with contextlib.suppress(Exception):
                writer.wait_merging_threads()
        shutil.rmtree(tmp, ignore_errors=True)
    return counts
