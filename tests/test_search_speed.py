"""The machinery that keeps search quick: the answer cache.

(Speed itself is measured in bench/search.py; these tests check behaviour.)
"""

from __future__ import annotations

import pytest

from app.content.audience import PUBLIC, STAFF
from app.search import results as search_results
from app.search import service as search
from app.search.service import service
from tests.conftest import CANARY_DOC
from tests.history_helpers import commit


@pytest.fixture(autouse=True)
def no_throttle(monkeypatch):
    monkeypatch.setattr(search, "CHECK_SECONDS", 0.0)


@pytest.fixture
def plans(monkeypatch):
    """Counts how often a query is actually planned and run (not answered from cache)."""
    calls: list[str] = []
    real = search.plan

    def counting(lexicon, parsed, synonyms):
        calls.append(" ".join(parsed.words))
        return real(lexicon, parsed, synonyms)

    monkeypatch.setattr(search, "plan", counting)
    return calls


def test_repeated_query_is_answered_from_the_cache(app, plans):
    with app.app_context():
        first = service().search("Refund  window", PUBLIC)
        again = service().search("refund window", PUBLIC)
    assert plans == ["refund window"]  # the same normalised query: planned once
    assert first.query == "Refund  window" and again.query == "refund window"
    assert [r.url for r in again.results] == [r.url for r in first.results] != []


@pytest.mark.parametrize("limit", [1, 10])
def test_cache_keeps_audiences_and_limits_apart(app, plans, limit):
    with app.app_context():
        assert service().search(CANARY_DOC, PUBLIC, limit=limit).count == 0
        assert service().search(CANARY_DOC, STAFF, limit=limit).count > 0
        assert service().search(CANARY_DOC, PUBLIC, limit=limit + 1).count == 0
    assert len(plans) == 3


def test_cache_keeps_answers_with_fewer_sections_apart(app, plans):
    with app.app_context():
        one = service().search("30 days", PUBLIC, sections=1)
        every = service().search("30 days", PUBLIC)
        service().search("30 days", PUBLIC, sections=1)  # from the cache
    assert len(plans) == 2
    assert [len(r.sections) for r in one.results] == [1]
    assert [len(r.sections) for r in every.results] == [2]


def test_a_commit_empties_the_cache(app, content_dir, plans):
    with app.app_context():
        assert service().search("quokka", PUBLIC).count == 0
    commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
    with app.app_context():
        assert service().search("quokka", PUBLIC).count == 1
    assert plans == ["quokka", "quokka"]


def test_commits_close_together_are_indexed_in_one_write(app, content_dir, monkeypatch):
    from app.search import index as search_index

    paused = [True]  # as if another worker wrote the index a moment ago
    monkeypatch.setattr(search, "UPDATE_EVERY", 0.7)
    monkeypatch.setattr(search, "CHECK_SECONDS", 0.0)
    monkeypatch.setattr(search.si, "written_ago", lambda _root: 0.1 if paused[0] else 99.0)
    writes: list[str] = []
    real = search_index.update

    def counting(root, changed, *args, **kwargs):
        writes.append(",".join(sorted(changed)))
        return real(root, changed, *args, **kwargs)

    monkeypatch.setattr(search.si, "update", counting)
    with app.app_context():
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "One")
        assert service().search("quokka", PUBLIC).count == 0  # within the pause: not yet
        commit(content_dir, {"faq/wombat.md": "---\naudience: public\n---\nwombat\n"}, "Two")
        paused[0] = False
        service()._checked = 0.0  # the gate's wait has passed
        assert service().search("quokka", PUBLIC).count == 1
        assert service().search("wombat", PUBLIC).count == 1
    assert writes == ["faq/quokka.md,faq/wombat.md"]


def test_written_ago_reads_the_state_files_age(app):
    import math
    import os

    from app.search import index as search_index

    with app.app_context():
        root = service().root
    assert search_index.written_ago(root) < 60
    os.utime(root / search_index.STATE_FILE, (1, 1))
    assert search_index.written_ago(root) > 60
    assert search_index.written_ago(root / "missing") == math.inf


def test_a_worker_held_back_by_the_gate_looks_again_when_it_opens(app, content_dir,
                                                                   monkeypatch):
    """Not a whole CHECK_SECONDS later: the wait is what keeps a save searchable in 1 s."""
    monkeypatch.setattr(search, "UPDATE_EVERY", 0.7)
    monkeypatch.setattr(search, "CHECK_SECONDS", 0.3)
    monkeypatch.setattr(search.si, "written_ago", lambda _root: 0.6)  # opens in 0.1 s
    monkeypatch.setattr(search.time, "monotonic", lambda: 1000.0)
    with app.app_context():
        svc = service()
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "One")
        svc._checked = 0.0
        svc.sync()
        assert svc.search("quokka", PUBLIC).count == 0  # held back
        # The next look is due when the gate opens (1000.1), not at 1000.3.
        assert svc._checked + search.CHECK_SECONDS == pytest.approx(1000.1)


def test_snippets_outlive_an_index_write_that_did_not_change_their_text(app, content_dir,
                                                                         plans, monkeypatch):
    made: list[str] = []
    real = search_results.snippet

    def counting(text, stems, *args):
        made.append(text)
        return real(text, stems, *args)

    monkeypatch.setattr(search_results, "snippet", counting)
    search_results._SNIPPETS.clear()
    with app.app_context():
        first = service().search("refund", PUBLIC)
        assert made and first.results
        made.clear()
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
        again = service().search("refund", PUBLIC)
    assert plans == ["refund", "refund"]  # the answer was computed afresh...
    assert made == []  # ...from remembered snippets
    assert [(r.url, r.snippet, r.highlight) for r in again.results] == [
        (r.url, r.snippet, r.highlight) for r in first.results]


def test_a_search_never_waits_for_the_index_write_it_starts(app, content_dir, monkeypatch):
    import threading

    from app.search import index as search_index

    monkeypatch.setattr(search, "CATCH_UP_IN_BACKGROUND", True)
    release, started = threading.Event(), threading.Event()
    real = search_index.update

    def slow(*args, **kwargs):
        started.set()
        assert release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(search.si, "update", slow)
    with app.app_context():
        svc = service()
        svc.search("quokka", PUBLIC)  # the index is current
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
        # The write is held up, yet the search answers at once, from the index it has.
        assert svc.search("quokka", PUBLIC).count == 0
        assert started.wait(10)
        assert svc.search("quokka", PUBLIC).count == 0  # one catch-up at a time
        release.set()
        svc._catching_up.join(10)
        assert svc.search("quokka", PUBLIC).count == 1
