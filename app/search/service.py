"""Search as a service: per-worker readers kept fresh, cached answers, start-up and CLI.

Freshness: at most every ``CHECK_SECONDS`` a search compares the content repository's HEAD
(a file read) with the head the index reflects.  When HEAD moved, the worker takes the
write lock without waiting (a worker holding it is already catching up) and re-indexes the
files ``git diff --name-status`` names, from the documents committed at the new head.  All
workers together write at most once per ``UPDATE_EVERY``, so a burst of saves is indexed
in one write.  Readers reopen their indexes when the state file changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import tantivy
from flask import Flask, current_app

from app.caching.lru import SizedLRU
from app.clock import today
from app.config import is_maintenance_command
from app.content.audience import Viewer
from app.content.store import ContentStore, Document
from app.history.in_force import in_force, revisions
from app.repo.gitrepo import GitError, GitRepo, is_valid_rev
from app.search import index as si
from app.search.build import build
from app.search.query import Lexicon, Synonyms, normalise, parse, plan
from app.search.rank import rank
from app.search.results import SECTIONS_PER_DOC, Answer, answer_size, result

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.3
# At most one incremental update per this many seconds across all workers: each worker
# checks on its own clock, so without it every commit of a busy minute meant an index write.
# Every write makes each worker reopen its readers and compute its answers afresh, so the
# longer the better, up to the promise that a save is searchable within a second: a worker
# held back by this gate looks again the moment it opens (``sync``), then writes (~0.1 s).
UPDATE_EVERY = 0.5
# A search that finds the index behind HEAD starts the catch-up in a thread of its own and
# answers from the current index meanwhile, so an agent typing never waits for an index
# write.  (In-process tests turn this off to commit and search in one breath.)
CATCH_UP_IN_BACKGROUND = True
UPDATE_LOCK_TIMEOUT = 10.0
MAX_LIMIT = 50
ANSWERS_CACHED = 2000  # per worker; see SearchService._search


class SearchService:
    def __init__(self, root: Path, store: ContentStore, repo: GitRepo, synonyms: Path,
                 today: Callable[[], dt.date] = dt.date.today):
        self.root = root
        self.today = today  # effective dates are compared with this
        self.store = store
        self.repo = repo
        self.synonyms = Synonyms(synonyms, store)
        self._open_lock = threading.Lock()
        self._opened: tuple[si.State | None, dict[str, tantivy.Searcher]] = (None, {})
        self._checked = 0.0
        self._check_lock = threading.Lock()
        self._catching_up: threading.Thread | None = None
        self._answers = SizedLRU(max_items=ANSWERS_CACHED, max_bytes=32 << 20,
                                 size_of=answer_size)

    # -- keeping the index current ---------------------------------------------------------
    def documents(self, head: str) -> list[Document]:
        """The documents a full build of ``head`` indexes (a catch-up reads only the files
        that changed: ``ContentStore.documents_at``)."""
        return self.store.snapshot(head)  # exactly ``head``'s committed text, whatever HEAD is now

    def ensure(self, *, announce=log.warning, timeout: float = si.LOCK_TIMEOUT) -> bool:
        """Build the index when it is missing or unreadable; True when it built."""
        if si.is_healthy(self.root):
            return False
        with si.locked(self.root, timeout=timeout):
            if si.is_healthy(self.root):  # another worker built it while we waited
                return False
            announce(f"search index at {self.root} is missing or unreadable: rebuilding")
            self.rebuild_locked()
        return True

    def rebuild_locked(self, progress=None, head: str | None = None) -> dict[str, int]:
        # The documents of the commit the index will say it reflects.
        head = self.repo.head() if head is None else head
        docs = self.documents(head)
        # The versions in force today (one ``git log`` of the whole history, 1-2 s, mostly
        # in git) are looked up in a thread while the staff index, which needs no dates, is
        # being written.  A thread, not a process: this may run inside a gunicorn worker.
        with ThreadPoolExecutor(1, thread_name_prefix="kb-in-force") as pool:
            dates = pool.submit(in_force, self.repo, docs, self.today())
            return build(self.root, docs, head, dates.result, progress)

    def sync(self) -> None:
        """Bring the index up to the repository's HEAD and today's date (throttled; cheap
        when current)."""
        now = time.monotonic()
        if now - self._checked < CHECK_SECONDS or not self._check_lock.acquire(blocking=False):
            return
        try:
            self._checked = now
            state = si.read_state(self.root)
            head = self.repo.head()
            if state is None or state.head != head:
                wait = UPDATE_EVERY - si.written_ago(self.root) if state is not None else 0
                if wait > 0:
                    # Commits arriving together are indexed together: look again the
                    # moment the gate opens rather than a whole CHECK_SECONDS later.
                    self._checked = now - CHECK_SECONDS + wait
                    return
                if CATCH_UP_IN_BACKGROUND and state is not None:
                    self._start_catch_up(head)
                    return
                try:
                    self._catch_up(head)
                except si.IndexBusy:
                    # Another worker is writing (most likely this very change): serve the
                    # current index rather than hold this request; look again shortly.
                    self._checked = 0.0
                    return
                state = si.read_state(self.root)
            if state is not None and state.due is not None and state.due <= self.today():
                self._date_passed()
        except Exception:  # a stale index is better than a failed search
            log.exception("search index update failed; serving the previous index")
        finally:
            self._check_lock.release()

    def _start_catch_up(self, head: str) -> None:
        """Catch up in a thread, one at a time per worker (called under the check lock).
        Not a daemon: a worker stopping gracefully finishes the write it began."""
        if self._catching_up is not None and self._catching_up.is_alive():
            return
        self._catching_up = threading.Thread(target=self._catch_up_quietly, args=(head,),
                                             name="search-catch-up")
        self._catching_up.start()

    def _catch_up_quietly(self, head: str) -> None:
        try:
            self._catch_up(head)
        except si.IndexBusy:
            self._checked = 0.0  # another worker is writing: look again on the next search
        except Exception:  # a stale index is better than a failed search
            log.exception("search index update failed; serving the previous index")

    def _catch_up(self, head: str) -> None:
        # Without waiting: when another worker holds the lock it is bringing the index up
        # to date, and this one's searches keep using the current index meanwhile.
        with si.locked(self.root, timeout=0.0):
            state = si.read_state(self.root)
            if state is not None and state.head == head:
                return
            paths = self._changed(state.head if state else "", head)
            if paths is not None and state is not None:
                at_head = self.store.documents_at(head, paths)  # only the changed files
                changed = {p: at_head.get(p) for p in paths}
                found = [d for d in changed.values() if d is not None]
                try:
                    # The old due date is kept even when it has passed: the next check
                    # then brings the other upcoming documents up to date (``_date_passed``).
                    si.update(self.root, changed, head, in_force(self.repo, found, self.today()),
                              state.due)
                    log.info("search index: %d file(s) updated to %s", len(paths), head[:12])
                    return
                except Exception:  # a damaged index: the full build below replaces it
                    log.exception("search index: update failed, rebuilding")
            log.info("search index: full rebuild for %s", head[:12])
            self.rebuild_locked(head=head)

    def _date_passed(self) -> None:
        """An effective date arrived: documents that were upcoming at the last look get the
        version now in force in the public index.  No commit is needed; the staff index
        already holds their current text."""
        with si.locked(self.root, timeout=UPDATE_LOCK_TIMEOUT):
            state = si.read_state(self.root)
            on = self.today()
            if state is None or state.due is None or state.due > on:
                return  # another worker did it
            # Every document upcoming at the last look has an effective date on or after
            # ``due`` (the earliest of them); the others were in force and stay so.  Of
            # those, only the ones whose version in force changed since the day before
            # ``due`` (what the index holds) are written again.
            docs = [d for d in self.documents(state.head)
                    if d.effective and d.effective >= state.due]
            chains = revisions(self.repo, docs)
            held = in_force(self.repo, docs, state.due - dt.timedelta(days=1), chains)
            dates = in_force(self.repo, docs, on, chains)
            changed = {d.path: d for d in docs
                       if _indexed(held.public_version(d)) != _indexed(dates.public_version(d))}
            si.update(self.root, changed, state.head, dates, None, audiences=("public",))
            log.info("search index: effective dates reached, %d document(s) updated",
                     len(changed))

    def _changed(self, old: str, new: str) -> set[str] | None:
        """Files to re-index between two commits, or None when a full build is needed."""
        if not (is_valid_rev(old) and is_valid_rev(new)):
            return None
        try:
            diff = self.repo.git("diff", "--name-status", "-z", "--no-renames", old, new, "--")
        except GitError:  # the old commit is gone (history rewritten): start afresh
            return None
        fields = [f for f in diff.decode("utf-8", "replace").split("\0") if f]
        return {p for p in fields[1::2] if p.endswith(".md")}

    # -- reading ---------------------------------------------------------------------------
    def searcher(self, name: str) -> tantivy.Searcher:
        """A searcher of one audience's index, reopened when the index changed (shared by
        the worker's threads: tantivy searchers are thread-safe)."""
        self.sync()
        state = si.read_state(self.root)
        with self._open_lock:
            if self._opened[0] != state:
                self._opened = (state, {})
            opened = self._opened[1]
            if name not in opened:  # opened when first needed: most workers serve one audience
                opened[name] = si.open_index(self.root / name).searcher()
            return opened[name]

    def search(self, text: str, viewer: Viewer, limit: int = 10,
               sections: int = SECTIONS_PER_DOC) -> Answer:
        """Search the viewer's index: ``limit`` documents, each with up to ``sections``
        matching sections (the list shown while typing shows one: the others' snippets
        are not made).  A damaged index is rebuilt and the search retried once; if that
        fails too the answer is empty (and logged), never an error page."""
        name = "staff" if viewer.sees_internal else "public"
        for attempt in range(2):
            try:
                return self._search(text, name, limit, sections)
            except si.IndexBusy:
                log.warning("search index busy; answering with no results")
                break
            except Exception:
                log.exception("search failed (attempt %d)", attempt + 1)
                with self._open_lock:
                    self._opened = (None, {})  # reopen: files may have changed under us
                if attempt == 0 and not si.is_healthy(self.root):
                    try:  # without waiting: a worker holding the lock is rebuilding already
                        self.ensure(timeout=0.0)
                    except si.IndexBusy:
                        break
                    except Exception:
                        log.exception("search index rebuild failed")
                        break
        return Answer(query=text, audience=name, notice="Search is being rebuilt: "
                      "try again in a moment.")

    def _search(self, text: str, name: str, limit: int, sections: int) -> Answer:
        parsed = parse(text)
        if parsed.empty:
            return Answer(query=text, audience=name,
                          notice="Type a word to search for." if text.strip() else None)
        self.synonyms.refresh()
        searcher = self.searcher(name)
        limit = max(1, min(limit, MAX_LIMIT))
        sections = max(1, min(sections, SECTIONS_PER_DOC))
        # Answers are cached per worker, keyed by what they depend on: the index build
        # (every write changes it), the audience's index, the query, the synonyms, the
        # limit and sections.  Agents typing the same words letter by letter share the work.
        state = self._opened[0]
        if state is None:  # no complete index: nothing to key an answer on
            return replace(self._answer(searcher, ("", name), text, name, limit, sections),
                           query=text)
        key = (state.build, name, normalise(text), parsed.partial, self.synonyms.stamp, limit,
               sections)
        cached = self._answers.remember(key, lambda: self._answer(
            searcher, (state.build, name), text, name, limit, sections))
        return replace(cached, query=text)

    def _answer(self, searcher: tantivy.Searcher, build: tuple, text: str, name: str,
                limit: int, sections: int) -> Answer:
        answer = Answer(query="", audience=name)
        steps = plan(Lexicon(searcher, build), parse(text), self.synonyms)
        answer.suggestion = steps.suggestion
        if steps.only_common:
            answer.notice = "Those words are too common to search for: add a more specific one."
            return answer
        if steps.empty:
            return answer
        docs, answer.count, answer.fallback = rank(searcher, steps, limit)
        stems = frozenset(steps.stems)
        answer.results = [result(doc, stems, sections) for doc in docs]
        return answer


def _indexed(doc: Document | None) -> tuple | None:
    """What of a version the public index holds (to tell whether it changed)."""
    if doc is None:
        return None
    return (doc.title, doc.summary, doc.body, doc.audience, tuple(doc.tags), doc.effective)


def _today(app: Flask) -> dt.date:
    """The portal's date (``KB_TODAY`` in tests), also outside a request."""
    with app.app_context():
        return today()


# -- wiring ----------------------------------------------------------------------------------
def service() -> SearchService:
    return current_app.extensions["kb_search"]


def init_app(app: Flask) -> None:
    repo: GitRepo = app.extensions["kb_repo"]
    svc = SearchService(Path(app.config["KB_DATA_DIR"]) / "index", app.extensions["kb_store"],
                        repo, repo.root / "synonyms.yml", today=lambda: _today(app))
    app.extensions["kb_search"] = svc
    if repo.is_repo() and not is_maintenance_command():
        try:
            with app.app_context():  # the public index needs today's version in force
                svc.ensure()
        except Exception:  # pages must still be served; search retries on first use
            log.exception("could not build the search index at start-up")

