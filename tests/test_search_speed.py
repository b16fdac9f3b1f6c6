"""The machinery that keeps search quick: the answer cache.

(Speed itself is measured in bench/search.py; these tests check behaviour.)
"""

from __future__ import annotations

import pytest

from app import search
from app.audience import PUBLIC, STAFF
from app.search import service
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

    def counting(searcher, parsed, synonyms):
        calls.append(" ".join(parsed.words))
        return real(searcher, parsed, synonyms)

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


def test_a_commit_empties_the_cache(app, content_dir, plans):
    with app.app_context():
        assert service().search("quokka", PUBLIC).count == 0
    commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
    with app.app_context():
        assert service().search("quokka", PUBLIC).count == 1
    assert plans == ["quokka", "quokka"]


def test_commits_close_together_are_indexed_in_one_write(app, content_dir, monkeypatch):
    from app import search_index

    paused = [True]  # as if another worker wrote the index a moment ago
    monkeypatch.setattr(search.si, "written_within", lambda _root, _s: paused[0])
    writes: list[str] = []
    real = search_index.update

    def counting(root, st, paths, *args, **kwargs):
        writes.append(",".join(sorted(paths)))
        return real(root, st, paths, *args, **kwargs)

    monkeypatch.setattr(search.si, "update", counting)
    with app.app_context():
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "One")
        assert service().search("quokka", PUBLIC).count == 0  # within the pause: not yet
        commit(content_dir, {"faq/wombat.md": "---\naudience: public\n---\nwombat\n"}, "Two")
        paused[0] = False
        assert service().search("quokka", PUBLIC).count == 1
        assert service().search("wombat", PUBLIC).count == 1
    assert writes == ["faq/quokka.md,faq/wombat.md"]


def test_written_within_reads_the_state_files_age(app):
    import os

    from app import search_index

    with app.app_context():
        root = service().root
    assert search_index.written_within(root, 60)
    os.utime(root / search_index.STATE_FILE, (1, 1))
    assert not search_index.written_within(root, 60)
    assert not search_index.written_within(root / "missing", 60)


# -- answers shared by the workers ------------------------------------------------------------
def other_worker(app):
    """A second app on the same data directory: another gunicorn worker."""
    from app import create_app

    return create_app({**app.config})


def test_another_worker_reads_an_answer_computed_once(app, plans):
    other = other_worker(app)
    with app.app_context():
        first = service().search("refund window", STAFF)
    with other.app_context():
        again = service().search("refund window", STAFF)
    assert plans == ["refund window"]  # planned and scored by the first worker only
    assert again == first and first.results
    assert str(again.results[0].snippet) == str(first.results[0].snippet)
    assert type(again.results[0].snippet) is type(first.results[0].snippet)  # markup


def test_shared_answers_keep_audiences_apart(app, plans):
    other = other_worker(app)
    with app.app_context():
        assert service().search(CANARY_DOC, STAFF).count > 0
    with other.app_context():
        assert service().search(CANARY_DOC, PUBLIC).count == 0
    assert len(plans) == 2


def test_a_damaged_shared_answer_is_computed_again(app, plans):
    with app.app_context():
        root = service()._shared.root
        service().search("refund", PUBLIC)
    for entry in root.rglob("*"):
        if entry.is_file():
            entry.write_text('{"key": "x"')
    with other_worker(app).app_context():
        assert service().search("refund", PUBLIC).count > 0
    assert plans == ["refund", "refund"]


def test_answers_of_old_builds_are_removed(app, content_dir):
    import os

    with app.app_context():
        root = service()._shared.root
        service().search("refund", PUBLIC)
        old = next(root.iterdir())
        os.utime(old, (1, 1))
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
        service().search("quokka", PUBLIC)  # a new build: its first answer prunes
    assert not old.exists() and len(list(root.iterdir())) == 1
