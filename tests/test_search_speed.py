"""The machinery that keeps search quick: the answer cache, kept across index writes that
leave an answer as it was.

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
def computed(monkeypatch):
    """Queries whose answer was computed (not taken from the cache, nor carried over)."""
    calls: list[str] = []
    real = search.SearchService._answer

    def counting(self, searcher, parsed, name, limit):
        calls.append(" ".join(parsed.words))
        return real(self, searcher, parsed, name, limit)

    monkeypatch.setattr(search.SearchService, "_answer", counting)
    return calls


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


def test_a_commit_that_matches_a_cached_answer_renews_it(app, content_dir, computed):
    with app.app_context():
        assert service().search("quokka", PUBLIC).count == 0
    commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
    with app.app_context():
        assert service().search("quokka", PUBLIC).count == 1
    assert computed == ["quokka", "quokka"]


def test_an_answer_outlives_a_commit_that_does_not_concern_it(app, content_dir, computed):
    with app.app_context():
        before = service().search("refund", PUBLIC)
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
        assert service().search("quokka", PUBLIC).count == 1  # the write happened
        after = service().search("refund", PUBLIC)
    assert computed == ["refund", "quokka"]
    assert after == before and before.results


@pytest.mark.parametrize(("change", "words"), [
    ("edit a document in the answer", {"policies/refunds.md": None}),
    ("delete a document in the answer", {"policies/refunds.md": "delete"}),
    ("add a document the query matches", {"faq/more.md": "---\naudience: public\n---\n"
                                                         "Refund questions.\n"}),
])
def test_a_commit_that_concerns_an_answer_renews_it(app, content_dir, computed, change,
                                                    words):
    path, text = next(iter(words.items()))
    with app.app_context():
        before = service().search("refund", PUBLIC)
        if text == "delete":
            commit(content_dir, {path: None}, change)
        else:
            old = (content_dir / path).read_text() if text is None else ""
            commit(content_dir, {path: text or old + "\nRefund wombats.\n"}, change)
        after = service().search("refund", PUBLIC)
    assert computed == ["refund", "refund"]
    urls = {r.url.split("#")[0] for r in after.results}
    if text == "delete":
        assert "/policies/refunds" not in urls
    elif path.startswith("faq/"):
        assert "/faq/more" in urls and after.count == before.count + 1


def test_a_document_turned_internal_leaves_the_public_answer(app, content_dir, computed):
    with app.app_context():
        assert "/faq/track-order" in [r.url.split("#")[0] for r in
                                      service().search("track", PUBLIC).results]
        text = (content_dir / "faq/track-order.md").read_text()
        commit(content_dir, {"faq/track-order.md":
                             text.replace("audience: public", "audience: internal")}, "Hide")
        urls = [r.url.split("#")[0] for r in service().search("track", PUBLIC).results]
    assert "/faq/track-order" not in urls


def test_a_full_rebuild_or_a_long_wait_renews_answers(app, content_dir, runner, computed,
                                                     monkeypatch):
    with app.app_context():
        service().search("refund", PUBLIC)
    assert runner.invoke(args=["kb", "reindex"]).exit_code == 0
    with app.app_context():
        service().search("refund", PUBLIC)  # after a full build: nothing is carried over
        assert computed == ["refund", "refund"]
        monkeypatch.setattr(search, "KEEP_SECONDS", 0.0)
        service().search("refund", PUBLIC)  # same build: still a plain cache hit
        assert computed == ["refund", "refund"]
        commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"}, "Add")
        service().search("refund", PUBLIC)  # an unrelated write, but the answer is too old
    assert computed == ["refund", "refund", "refund"]


def test_the_change_log_chains_writes_and_knows_its_gaps(tmp_path):
    from app import search_changes

    search_changes.record(tmp_path, None, "b1", None)  # a full build
    search_changes.record(tmp_path, "b1", "b2", ["faq/a.md"])
    search_changes.record(tmp_path, "b2", "b3", ["faq/b.md", "faq/a.md"])
    assert search_changes.between(tmp_path, "b1", "b3") == {"faq/a.md", "faq/b.md"}
    assert search_changes.between(tmp_path, "b2", "b3") == {"faq/a.md", "faq/b.md"}
    assert search_changes.between(tmp_path, "b3", "b3") == set()
    assert search_changes.between(tmp_path, "b0", "b3") is None  # before the full build
    assert search_changes.between(tmp_path, "zz", "b9") is None  # unknown
    with (tmp_path / search_changes.CHANGES_FILE).open("a") as handle:
        handle.write('["b3", "b4", ["faq/c.md"')  # a torn last line
    assert search_changes.between(tmp_path, "b3", "b4") is None


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
