"""Full builds of both search indexes: one pass per document, split over two processes.

Each document is read, projected and analysed once for both indexes (the public and the
staff record of a public section usually hold the same text, see ``SharedPositions``).
On a big catalogue the documents are dealt to ``WORKERS`` forked processes; each writes one
segment of each index, and the parent lists the segments in the indexes' tables of contents
(as Whoosh's own multi-process writer does with ``multisegment=True``), so both cores work
for the whole build instead of one process waiting for the larger staff index.

The public index gets the version of each document in force today (``search_dates``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from whoosh import index as windex
from whoosh.writing import SegmentWriter

from app.content.store import Document
from app.history.in_force import InForce
from app.search.analysis import SharedPositions
from app.search.index import AUDIENCES, make_schema, records, write_state

WORKERS = 2
PARALLEL_FROM = 200  # documents; smaller catalogues are built in the calling process
LIMIT_MB = 256  # postings held in memory per index and process before spilling to disk


@dataclass
class _Job:
    target: Path
    docs: list[Document]
    dates: InForce
    done: object | None  # a shared counter of documents processed, for the progress bar


_job: _Job | None = None  # set before forking: workers inherit it instead of unpickling


class _Writer(SegmentWriter):
    """A segment writer that reads the field lengths once, not once per posting.

    Whoosh looks up the document's field length for every posting it writes (for the
    block-max scores that let searches skip blocks); from the on-disk column that was about
    a seventh of the build.  The same values, read once into lists.
    """

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader()
        try:
            lengths = _Lengths(pdr, [n for n, f in self.schema.items() if f.scorable])
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
            self.fieldwriter.close()
        finally:
            pdr.close()


class _Lengths:
    def __init__(self, pdr, fields: list[str]):
        count = pdr.doc_count_all()
        self._by_field = {name: [pdr.doc_field_length(d, name) for d in range(count)]
                          for name in fields}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        table = self._by_field.get(fieldname)
        return table[docnum] if table is not None else default


def _build_part(part: int, parts: int) -> tuple[dict[str, int], dict[str, object]]:
    """Index every ``parts``-th document from ``part`` into a new segment of each index."""
    job = _job
    assert job is not None
    writers = {name: _Writer(windex.open_dir(str(job.target / name)), _lk=False,
                             limitmb=LIMIT_MB) for name in AUDIENCES}
    counts = dict.fromkeys(AUDIENCES, 0)
    SharedPositions.remember()
    try:
        for doc in job.docs[part::parts]:
            public = job.dates.public_version(doc)
            for name, shown in (("staff", doc), ("public", public)):
                for rec in records(shown, AUDIENCES[name]) if shown else []:
                    writers[name].add_document(**rec)
                    counts[name] += 1
            SharedPositions.forget()
            if job.done is not None:
                with job.done.get_lock():
                    job.done.value += 1
        segments = {}
        for name, writer in writers.items():
            if counts[name]:
                segments[name] = writer._finalize_segment()
            else:
                writer._close_segment()
    finally:
        SharedPositions.stop()
    return counts, segments


def _publish(path: Path, segments: list) -> None:
    """Make ``segments`` (written by the workers) the content of the index at ``path``."""
    writer = SegmentWriter(windex.open_dir(str(path)))
    writer._close_segment()
    writer._commit_toc(segments)
    writer._finish()


def build(root: Path, docs: list[Document], head: str, dates: InForce,
          progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Rebuild both indexes from ``docs`` (the work tree's documents).

    The caller holds ``search_index.locked(root)``.  The new indexes are written next to the
    old ones and then swapped in, so searches keep working during a rebuild.
    """
    global _job
    tmp = root / f".build-{uuid.uuid4().hex[:8]}"
    try:
        for name in AUDIENCES:
            (tmp / name).mkdir(parents=True)
            windex.create_in(str(tmp / name), make_schema())
        parts = WORKERS if len(docs) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1 else 1
        ctx = get_context("fork")
        _job = _Job(tmp, docs, dates, ctx.Value("l", 0) if progress else None)
        reported = 0

        def report() -> None:
            nonlocal reported
            if progress and _job.done.value > reported:
                progress(_job.done.value - reported)
                reported = _job.done.value

        if parts > 1:
            with ctx.Pool(parts) as pool:
                pending = pool.starmap_async(_build_part, [(i, parts) for i in range(parts)])
                while not pending.ready():
                    pending.wait(0.2)
                    report()
                results = pending.get()
        else:
            results = [_build_part(0, 1)]
        report()
        for name in AUDIENCES:
            _publish(tmp / name, [segs[name] for _c, segs in results if name in segs])
        for name in AUDIENCES:
            old = root / f".old-{name}-{uuid.uuid4().hex[:6]}"
            if (root / name).exists():
                os.replace(root / name, old)
            os.replace(tmp / name, root / name)
            shutil.rmtree(old, ignore_errors=True)
        write_state(root, head, dates.due)
    finally:
        _job = None
        shutil.rmtree(tmp, ignore_errors=True)
    return {name: sum(c[name] for c, _s in results) for name in AUDIENCES}

