"""Search and effective dates: customers find the version in force, builds in parallel."""

from __future__ import annotations

import datetime as dt

import pytest

from app.content.audience import PUBLIC, STAFF
from app.history.in_force import in_force
from app.history.revisions import in_force as history_in_force
from app.search import index as si
from app.search import service as search
from app.search.service import service
from tests.history_helpers import commit, refunds, refunds_versions

REFUNDS = "policies/refunds.md"
BEFORE, DAY = dt.date(2029, 12, 31), dt.date(2030, 1, 1)


@pytest.fixture(autouse=True)
def no_throttle(monkeypatch):
    monkeypatch.setattr(search, "CHECK_SECONDS", 0.0)


def count(app, q: str, viewer=PUBLIC) -> int:
    with app.app_context():
        return service().search(q, viewer).count


def state(app) -> si.State:
    with app.app_context():
        return si.read_state(service().root)


# -- which version the public index holds --------------------------------------------------
@pytest.fixture
def upcoming(app, content_dir):
    """Refunds: in force since 2026, a 2029-06 version, and a 2030 version (HEAD)."""
    refunds_versions(content_dir, ("Marmalade since March.\n", "2026-03-01", "2026-02-01"),
                     ("Quince from June.\n", "2029-06-01", "2026-06-01"),
                     ("Tangerine next year.\n", "2030-01-01", "2026-07-01"))
    return app


@pytest.mark.parametrize(("on", "text"), [
    (dt.date(2026, 3, 1), "Marmalade"), (dt.date(2029, 5, 31), "Marmalade"),
    (dt.date(2029, 6, 1), "Quince"), (BEFORE, "Quince"), (DAY, "Tangerine"),
    (dt.date(2026, 2, 28), "most orders"), (dt.date(2025, 12, 31), None),
])
def test_in_force_agrees_with_history(upcoming, content_dir, on, text):
    with upcoming.app_context():
        doc = service().store.get("policy", "refunds")
        mine = in_force(service().repo, [doc], on)
        theirs = history_in_force(doc, on)[1]
    got = mine.public_version(doc)
    assert (got.body if got else None) == (theirs.body if theirs else None)
    assert (text in got.body) if text else got is None


def test_in_force_follows_renames(app, content_dir):
    from tests.conftest import git

    commit(content_dir, {REFUNDS: refunds("Marmalade.\n", effective="2026-03-01")}, "Old")
    git(content_dir, "mv", REFUNDS, "policies/money-back.md")
    git(content_dir, "commit", "-q", "-m", "Rename")
    commit(content_dir, {"policies/money-back.md": refunds("Tangerine.\n",
                                                           effective="2030-01-01")}, "New")
    with app.app_context():
        doc = service().store.get("policy", "money-back")
        got = in_force(service().repo, [doc], BEFORE)
    assert "Marmalade" in got.public_version(doc).body and got.due == DAY


def test_public_search_finds_the_version_in_force_then_the_new_one(upcoming, client):
    upcoming.config["KB_TODAY"] = BEFORE
    assert count(upcoming, "quince") == 1 and count(upcoming, "tangerine") == 0
    assert count(upcoming, "tangerine", STAFF) == 1 and count(upcoming, "quince", STAFF) == 0
    assert state(upcoming).due == DAY
    upcoming.config["KB_TODAY"] = DAY  # no commit: the date alone changes the public index
    assert client.get("/api/search?q=tangerine").get_json()["count"] == 1
    assert client.get("/api/search?q=quince").get_json()["count"] == 0
    assert state(upcoming).due is None


def test_each_effective_date_is_picked_up(upcoming, content_dir, caplog):
    commit(content_dir, {"faq/later.md": "---\naudience: public\neffective: 2031-01-01\n"
                         "---\nPomelo.\n"}, "Later")
    upcoming.config["KB_TODAY"] = dt.date(2029, 1, 1)
    assert count(upcoming, "marmalade") == 1 and state(upcoming).due == dt.date(2029, 6, 1)
    upcoming.config["KB_TODAY"] = dt.date(2029, 6, 1)
    with caplog.at_level("INFO", logger="app.search"):
        assert count(upcoming, "quince") == 1 and count(upcoming, "marmalade") == 0
    assert "1 document(s) updated" in caplog.text  # faq/later did not change: not rewritten
    assert state(upcoming).due == DAY and count(upcoming, "pomelo") == 0
    upcoming.config["KB_TODAY"] = dt.date(2031, 1, 1)
    assert count(upcoming, "pomelo") == 1 and count(upcoming, "tangerine") == 1


def test_date_passing_together_with_a_commit(upcoming, content_dir):
    upcoming.config["KB_TODAY"] = BEFORE
    assert count(upcoming, "quince") == 1
    upcoming.config["KB_TODAY"] = DAY
    commit(content_dir, {"faq/other.md": "---\naudience: public\n---\nOther.\n"}, "Other")
    assert count(upcoming, "tangerine") == 1 and count(upcoming, "other") == 1


def test_full_build_holds_the_version_in_force(upcoming, runner):
    upcoming.config["KB_TODAY"] = BEFORE
    assert runner.invoke(args=["kb", "reindex"]).exit_code == 0
    assert count(upcoming, "quince") == 1 and count(upcoming, "tangerine") == 0
    assert count(upcoming, "tangerine", STAFF) == 1


@pytest.mark.parametrize(("on", "found"), [(BEFORE, 0), (DAY, 1)])
def test_upcoming_new_document_is_not_found_before_its_date(app, client, content_dir, on,
                                                            found):
    app.config["KB_TODAY"] = on
    commit(content_dir, {"faq/new-service.md": "---\ntitle: Futureservice question\n"
                         "audience: public\neffective: 2030-01-01\n---\nSoon.\n"}, "Add")
    assert client.get("/api/search?q=futureservice").get_json()["count"] == found
    assert count(app, "futureservice", STAFF) == 1


def test_upcoming_version_of_an_internal_document_stays_out(app, content_dir):
    app.config["KB_TODAY"] = BEFORE
    commit(content_dir, {REFUNDS: refunds("Tangerine.\n", audience="internal")}, "Hide")
    commit(content_dir, {REFUNDS: refunds("Tangerine public.\n", effective="2030-01-01")},
           "Publish later")
    assert count(app, "tangerine") == 0 and count(app, "tangerine", STAFF) == 1
    app.config["KB_TODAY"] = DAY
    assert count(app, "tangerine") == 1


# -- the full build ------------------------------------------------------------------------
@pytest.mark.slow
def test_full_build_matches_the_catalogue(app, content_dir, runner):
    n = 120
    commit(content_dir, {f"faq/bulk/q{i:03d}.md":
                         f"---\naudience: {'public' if i % 3 else 'internal'}\n"
                         f"title: Bulk {i}\n---\nword{i} shared text\n\n## Part\nmore{i}\n"
                         for i in range(n)}, "Bulk")
    result = runner.invoke(args=["kb", "reindex"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        docs = service().store.all()
    public = {d.url for d in docs if d.is_public}
    with app.app_context():
        found = {r.url.split("#")[0] for r in service().search("shared text ", PUBLIC,
                                                               limit=50).results}
        staff = service().search('"shared text"', STAFF, limit=50)
    assert found and found <= public and "/faq/bulk/q003" not in found  # q003 is internal
    assert staff.count == n  # every document once, none twice
    # A space after each word: finished words, not completed ("word1" -> "word10", …).
    with app.app_context():
        typos = [r.url for r in service().search("word3 ", PUBLIC, limit=50).results]
    assert count(app, "word1 ") == 1 and "/faq/bulk/q003" not in typos  # corrections only
    assert count(app, "word3 ", STAFF) == 1 and count(app, "more119 ") == 1


def test_a_full_build_forks_no_process(app, content_dir, runner, monkeypatch):
    """Issue #12 item 10: a rebuild inside a threaded gunicorn worker must not fork (a
    child can inherit a lock another thread holds); tantivy's own threads do the work."""
    import os

    commit(content_dir, {f"faq/many/q{i:03d}.md": f"---\naudience: public\n---\nword{i}\n"
                         for i in range(250)}, "Many")

    def no_fork():
        raise AssertionError("a full build forked a process")

    monkeypatch.setattr(os, "fork", no_fork)
    result = runner.invoke(args=["kb", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexed 255 documents" in result.output
    assert count(app, "word249 ") == 1
