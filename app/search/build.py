"""Full builds of both search indexes, written beside the old ones and swapped in.

Each document is projected once per index and handed to tantivy's writers, whose own
threads do the indexing: no process pool, so a rebuild inside a threaded gunicorn worker
never forks (a child could inherit a lock another thread holds).

The public index gets the version of each document in force today (``in_force``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import tantivy

from app.content.document import Document
from app.history.in_force import InForce
from app.search.analysis import register
from app.search.index import AUDIENCES, SCHEMA, Shown, records_of, shown_to, write_state

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


def _make(shown: Shown) -> Made:
    recs = records_of(shown)
    return (tantivy.Document.from_dict(recs[0], SCHEMA),
            [tantivy.Document.from_dict(r, SCHEMA) for r in recs[1:]])


def add(writer: tantivy.IndexWriter, record: tantivy.Document) -> None:
    """Hand one record to a writer (the one place a build writes; tests make it fail)."""
    writer.add_document(record)


class _Feeder(threading.Thread):
    """Hands batches of records to one writer, in the order given, from a thread of its
    own: tantivy's queue for a writer holds only so many records, and the Python making
    the records must not wait there while the other index's writer has nothing to do.
    (``add_document`` lets go of the GIL while it waits.)"""

    def __init__(self, name: str, writer: tantivy.IndexWriter):
        super().__init__(name=f"kb-build-{name}", daemon=True)
        self.writer = writer
        self.batches: queue.SimpleQueue[list[tantivy.Document] | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.stopped = False  # the build failed elsewhere: write nothing more

    def run(self) -> None:
        while (batch := self.batches.get()) is not None:
            if self.error is None and not self.stopped:  # else only drain what is sent
                try:
                    for record in batch:
                        add(self.writer, record)
                except BaseException as exc:  # raised in the builder's thread by close()
                    self.error = exc

    def close(self) -> None:
        """Wait until every record sent is with the writer; raise what went wrong."""
        self.batches.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def build(root: Path, docs: list[Document], head: str,
          dates: InForce | Callable[[], InForce],
          progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Rebuild both indexes from ``docs`` (the committed documents at ``head``).

    The caller holds ``index.locked(root)``.  The new indexes are written next to the old
    ones and then swapped in, so searches keep working during a rebuild.  ``dates`` may
    be a function giving them: it is called once the staff records are on their way (the
    staff index needs no dates), so the CLI finds them meanwhile.  Returns the number of
    records written per index."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".build-{uuid.uuid4().hex[:8]}"
    counts = dict.fromkeys(AUDIENCES, 0)
    writers: dict[str, tantivy.IndexWriter] = {}
    feeders: list[_Feeder] = []
    try:
        for name in AUDIENCES:
            (tmp / name).mkdir(parents=True)
            index = register(tantivy.Index(SCHEMA, path=str(tmp / name)))
            writers[name] = index.writer(heap_size=BUILD_HEAP, num_threads=BUILD_THREADS)
        staff, public = (_Feeder(name, writers[name]) for name in ("staff", "public"))
        feeders += (staff, public)
        for feeder in feeders:
            feeder.start()
        # Every document record first, then every place record, each kind in the order of
        # ``docs``: one writer thread keeps that order in the segment, so a search of one
        # kind of record (they all name a ``level``) stops at the end of its own run of
        # documents instead of reading the other kind's postings (the document search
        # takes half the time).  Within each kind the order is the same as writing each
        # document's records together, so ties between equal scores fall the same way.
        # The places wait as tantivy documents, not dicts: tens of thousands of live dicts
        # made Python's garbage collector rescan them all, again and again.
        #
        # The staff records come first, all of them: their writer has the most to do and
        # can start at once.  A public view equal to the staff view (``Shown``: everything
        # records depend on; a public page without internal blocks or staff-only fields,
        # most public pages) reuses the staff records instead of making them again.
        seen: list[tuple[Shown | None, Made | None]] = []
        places: list[tantivy.Document] = []
        for doc in docs:
            shown = shown_to(doc, AUDIENCES["staff"])
            made = _make(shown) if shown is not None else None
            if made is not None:
                staff.batches.put([made[0]])
                places += made[1]
                counts["staff"] += 1 + len(made[1])
            seen.append((shown, made))
        staff.batches.put(places)
        places = []
        if callable(dates):
            dates = dates()
        for doc, (staff_shown, staff_made) in zip(docs, seen, strict=True):
            version = dates.public_version(doc)
            shown = shown_to(version, AUDIENCES["public"]) if version is not None else None
            if shown is not None:
                made = staff_made if shown == staff_shown else _make(shown)
                public.batches.put([made[0]])
                places += made[1]
                counts["public"] += 1 + len(made[1])
            if progress:
                progress(1)
        public.batches.put(places)
        del seen, places
        while feeders:
            feeders.pop().close()
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
        for feeder in feeders:  # a failed build: stop feeding, then free the writers
            feeder.stopped = True
            feeder.batches.put(None)
            feeder.join()
        for writer in writers.values():
            with contextlib.suppress(Exception):
                writer.wait_merging_threads()
        shutil.rmtree(tmp, ignore_errors=True)
    return counts
