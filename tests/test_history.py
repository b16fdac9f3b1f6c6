"""History internals: revisions, pagination, renames, external commits, effective dates."""

from __future__ import annotations

import datetime as dt

import pytest

from app.history import revisions as history
from app.repo.gitrepo import is_valid_rev
from tests.history_helpers import commit, refunds, refunds_versions

REFUNDS = "policies/refunds.md"


def test_revisions_newest_first_with_sizes(app, content_dir):
    commit(content_dir, {REFUNDS: refunds("Short.\n")}, "Shorten")
    with app.app_context():
        revs = history.revisions(REFUNDS)
    assert [r.number for r in revs] == [2, 1]
    assert revs[0].entry.subject == "Shorten"
    assert revs[0].entry.author == "Outside Owner"
    assert revs[0].delta < 0 and revs[0].size + (-revs[0].delta) == revs[1].size


def test_pagination(app, content_dir):
    for i in range(12):
        commit(content_dir, {REFUNDS: refunds(f"Version {i}.\n")}, f"Edit {i}")
    with app.app_context():
        revs = history.revisions(REFUNDS)
        first, last = history.page_of(revs, 1, per_page=5), history.page_of(revs, 3, per_page=5)
        beyond = history.page_of(revs, 99, per_page=5)
    assert (first.total, first.pages) == (13, 3)
    assert [r.entry.subject for r in first.revisions][:2] == ["Edit 11", "Edit 10"]
    assert [r.number for r in last.revisions] == [3, 2, 1]
    assert beyond.page == 3


def test_rename_is_followed(app, content_dir):
    text = (content_dir / REFUNDS).read_text()
    commit(content_dir, {REFUNDS: None, "policies/refund-policy.md": text}, "Rename")
    with app.app_context():
        revs = history.revisions("policies/refund-policy.md")
    assert [r.entry.status for r in revs] == ["R", "A"]
    assert revs[0].entry.old_path == REFUNDS


def test_external_commit_invalidates_cache(app, content_dir):
    with app.app_context():
        assert len(history.revisions(REFUNDS)) == 1
        commit(content_dir, {REFUNDS: refunds("Changed outside.\n")}, "Outside edit")
        revs = history.revisions(REFUNDS)
        assert [r.entry.subject for r in revs] == ["Outside edit", "Fixture content"]
        assert history.document_at(revs[1], "policy", "refunds").body.startswith("We refund")


@pytest.mark.parametrize("rev", ["", "HEAD", "--all", "abc", "g" * 40, "a" * 65, "../x"])
def test_rev_allow_list(rev):
    assert not is_valid_rev(rev)


def test_find_rejects_invalid_and_unknown(app):
    with app.app_context():
        revs = history.revisions(REFUNDS)
        assert history.find(revs, "HEAD~1") is None
        assert history.find(revs, "0" * 40) is None
        assert history.find(revs, revs[0].sha[:8]) == revs[0]


@pytest.fixture
def upcoming(app, content_dir):
    refunds_versions(content_dir, ("In force from March.\n", "2026-03-01", "2026-02-01"),
                     ("Upcoming in 2027.\n", "2027-01-01", "2026-06-01"))
    return app


@pytest.mark.parametrize(("today", "expected"), [
    ("2026-12-31", "In force from March."),
    ("2027-01-01", "Upcoming in 2027."),
    ("2027-01-02", "Upcoming in 2027."),
])
def test_in_force_at_date_boundary(upcoming, today, expected):
    with upcoming.app_context():
        doc = history.store().get("policy", "refunds")
        _, shown = history.in_force(doc, dt.date.fromisoformat(today))
    assert shown.body.strip() == expected


@pytest.mark.parametrize(("on", "expected"), [
    ("2026-02-28", None),  # the March version exists but is not in force yet; the fixture
    ("2026-03-01", "In force from March."),  # commit is dated today, so nothing before it
    ("2026-06-01", "In force from March."),  # committed that day, effective only in 2027
    ("2027-01-01", "Upcoming in 2027."),
])
def test_as_of_boundaries(upcoming, on, expected):
    with upcoming.app_context():
        found = history.as_of("policy", "refunds", dt.date.fromisoformat(on))
    assert (found[1].body.strip() if found else None) == expected


def test_in_force_is_cheap_when_current(app, monkeypatch):
    with app.app_context():
        doc = history.store().get("policy", "refunds")
        monkeypatch.setattr(history, "revisions", lambda path: pytest.fail("walked history"))
        assert history.in_force(doc, dt.date(2026, 6, 1)) == (None, doc)
