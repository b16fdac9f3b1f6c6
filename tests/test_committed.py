"""Only what is committed is served (issue #12 items 1 and 2).

An edit in the content work tree that is not committed has no author, no message and no
history: pages, lists, the sitemap, feeds and search show the tree at HEAD, and the edit
appears once it is committed (on the next request, like any commit made outside the portal).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app import create_app
from app.content.audience import PUBLIC, STAFF
from app.content.store import ContentStore
from app.editing import save as editing
from app.search import service as search
from app.search.service import service
from tests.conftest import git
from tests.history_helpers import commit

REFUNDS = "policies/refunds.md"


@pytest.fixture(autouse=True)
def no_throttle(monkeypatch):
    monkeypatch.setattr(search, "CHECK_SECONDS", 0.0)


def _commit_only(root: Path, rel: str, text: str, message: str) -> None:
    """Commit one file, leaving every other change in the work tree uncommitted."""
    (root / rel).write_text(text)
    git(root, "add", "--", rel)
    git(root, "commit", "-q", "-m", message)


def _found(app, word: str) -> list[str]:
    with app.app_context():
        return [r.url for r in service().search(word, PUBLIC).results]


def test_an_uncommitted_edit_is_not_served_until_committed(app, client, content_dir):
    assert client.get("/policies/refunds").status_code == 200
    assert _found(app, "refund")  # the index is built and current
    refunds = content_dir / REFUNDS
    edited = refunds.read_text().replace("We refund most orders.", "Quetzalword refunds.")
    refunds.write_text(edited)
    (content_dir / "faq" / "draft.md").write_text(
        "---\ntitle: Draftquokka\naudience: public\n---\nDraftquokka text.\n")
    _commit_only(content_dir, "faq/other.md", "---\naudience: public\n---\nOther.\n", "Elsewhere")

    page = client.get("/policies/refunds").text
    assert "Quetzalword" not in page and "We refund most orders." in page
    assert client.get("/faq/draft").status_code == 404
    assert "Draftquokka" not in client.get("/faq/").text
    assert "Draftquokka" not in client.get("/").text
    assert "/faq/draft" not in client.get("/sitemap.xml").text
    assert "/faq/other" in client.get("/sitemap.xml").text  # the commit itself did show
    assert _found(app, "quetzalword") == [] and _found(app, "draftquokka") == []

    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "Commit the edits")
    assert "Quetzalword refunds." in client.get("/policies/refunds").text
    assert "Draftquokka text." in client.get("/faq/draft").text
    assert "Draftquokka" in client.get("/faq/").text
    assert "/faq/draft" in client.get("/sitemap.xml").text
    assert _found(app, "quetzalword") == ["/policies/refunds"]
    assert _found(app, "draftquokka") == ["/faq/draft"]


def test_a_file_removed_but_not_committed_is_still_served(client, content_dir):
    (content_dir / "faq" / "track-order.md").unlink()
    assert client.get("/faq/track-order").status_code == 200
    assert "/faq/track-order" in client.get("/sitemap.xml").text


def test_a_catch_up_racing_a_save_indexes_the_new_text(app, client, auth, content_dir,
                                                       monkeypatch):
    """A save moves the branch, then writes the work tree.  A catch-up in between must
    index the new commit's text, not the work tree's old one (else search never finds it).
    The save edits an internal document: it publishes at once (a public change would be a
    proposal, see test_proposals_http)."""
    from tests.test_http_edit import form_of

    def staff_found(word: str) -> list[str]:
        with app.app_context():
            return [r.url for r in service().search(word, STAFF).results]

    assert staff_found("tier")
    raced: list[str] = []

    def checkpoint(step: str) -> None:
        if step == "ref":  # the branch has moved; the work tree still holds the old text
            head = editing.repo().head()
            service()._catch_up(head)
            raced.append(head)

    monkeypatch.setattr(editing, "checkpoint", checkpoint)
    auth.login("editor")
    fields = form_of(client.get("/edit/policies/escalation").text)
    fields["body"] = fields["body"].replace("Tier 2 handles", "Tier 2 wombats handle")
    assert client.post("/edit/policies/escalation", data=fields).status_code == 302
    assert raced and raced[0] == git(content_dir, "rev-parse", "HEAD").strip()
    assert staff_found("wombats") == ["/policies/escalation"]


def test_snapshot_holds_the_documents_of_that_commit(app, content_dir):
    first = git(content_dir, "rev-parse", "HEAD").strip()
    commit(content_dir, {"faq/new.md": "---\ntitle: New\naudience: public\n---\nNew.\n",
                         "policies/no-front-matter.md": None}, "Change")
    store = ContentStore(content_dir)
    old, now = store.snapshot(first), store.snapshot(store.repo.head())
    assert "faq/new.md" not in {d.path for d in old}
    assert "policies/no-front-matter.md" in {d.path for d in old}
    assert [d.path for d in now] == [d.path for d in store.all()]
    assert "faq/new.md" in {d.path for d in now}
    assert store.snapshot("0" * 40) == []


def test_an_empty_repository_serves_nothing_and_stays_up(tmp_path: Path):
    root = tmp_path / "content"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "policies").mkdir()
    (root / "policies" / "draft.md").write_text("---\naudience: public\n---\nNot yet.\n")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-not-for-production",
                      "KB_DATA_DIR": str(tmp_path / "data"), "KB_CONTENT_DIR": str(root),
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/policies/").status_code == 200
    assert client.get("/policies/draft").status_code == 404
    assert "/policies/draft" not in client.get("/sitemap.xml").text
    res = client.get("/search?q=yet")
    assert res.status_code == 200 and "Not yet" not in res.text
    assert client.get("/changes").status_code == 200


def test_kb_check_warns_about_uncommitted_changes(runner, content_dir):
    result = runner.invoke(args=["kb", "check"])
    assert result.exit_code == 0 and "uncommitted" not in result.output
    (content_dir / REFUNDS).write_text("edited\n")
    (content_dir / "faq" / "new.md").write_text("new\n")
    result = runner.invoke(args=["kb", "check"])
    assert result.exit_code == 0, result.output  # a warning, not a problem
    assert "faq/new.md: uncommitted change, not served until committed" in result.output
    assert f"{REFUNDS}: uncommitted change, not served until committed" in result.output
