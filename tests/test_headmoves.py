"""Head moves: caches learn what a commit changed once, and re-read only that."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.caching import sharedfiles
from app.content.audience import PUBLIC
from app.content.store import ContentStore
from app.editing import save as editing
from app.history import catalogue
from app.repo import headmoves
from app.repo.gitrepo import GitRepo
from tests.conftest import git


def commit_file(root: Path, rel: str, text: str, message: str = "Edit") -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture
def counted(monkeypatch):
    """git subcommands run while the test goes on."""
    seen: list[str] = []
    real = GitRepo.git

    def git_counted(self, *args, **kwargs):
        seen.append(args[0])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(GitRepo, "git", git_counted)
    return seen


def test_between_names_commits_and_files_and_composes(content_dir, counted):
    repo = GitRepo(content_dir)
    first = repo.head()
    second = commit_file(content_dir, "policies/refunds.md", "---\naudience: public\n---\nA\n",
                         "One\n\nMaterial: yes\n")
    third = commit_file(content_dir, "faq/new.md", "B\n", "Two")
    move = repo.moves.between(first, third)
    assert [c.sha for c in move.commits] == [third, second]
    assert move.paths == {"policies/refunds.md", "faq/new.md"}
    assert move.commits[1].material and not move.commits[0].material
    asked = len(counted)
    assert repo.moves.between(first, third).paths == move.paths
    assert repo.moves.between(first, third).old == first
    assert len(counted) == asked  # remembered: no second git
    assert repo.moves.between(third, third).paths == frozenset()


@pytest.mark.parametrize("case", ["backwards", "rewritten", "invalid"])
def test_between_is_none_when_not_a_fast_forward(content_dir, case):
    repo = GitRepo(content_dir)
    first = repo.head()
    second = commit_file(content_dir, "faq/x.md", "x\n")
    if case == "backwards":
        assert repo.moves.between(second, first) is None
    elif case == "rewritten":
        git(content_dir, "reset", "-q", "--hard", first)
        other = commit_file(content_dir, "faq/y.md", "y\n")
        assert repo.moves.between(second, other) is None
    else:
        assert repo.moves.between("not-a-sha", second) is None
        assert repo.moves.between(None, second) is None


def test_a_merge_names_the_files_its_resolution_changed(content_dir):
    repo = GitRepo(content_dir)
    first = repo.head()
    git(content_dir, "checkout", "-q", "-b", "side")
    commit_file(content_dir, "faq/side.md", "side\n")
    git(content_dir, "checkout", "-q", "main")
    commit_file(content_dir, "faq/main.md", "main\n")
    git(content_dir, "merge", "-q", "--no-ff", "--no-commit", "side")
    (content_dir / "faq/resolved.md").write_text("made in the merge\n")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "Merge")
    move = repo.moves.between(first, repo.head())
    assert {"faq/side.md", "faq/main.md", "faq/resolved.md"} <= move.paths


def test_store_rereads_only_the_files_a_commit_touched(content_dir, monkeypatch):
    repo = GitRepo(content_dir)
    store = ContentStore(content_dir, head=repo.head, moves=repo.moves.between)
    before = {d.path: d for d in store.all()}
    commit_file(content_dir, "faq/track-order.md",
                "---\ntitle: Aaa first now\naudience: public\n---\nNew text.\n")
    commit_file(content_dir, "faq/added.md", "---\ntitle: Added\naudience: public\n---\nx\n")
    git(content_dir, "rm", "-q", "policies/no-front-matter.md")
    git(content_dir, "commit", "-q", "-m", "Remove")
    monkeypatch.setattr(ContentStore, "_scan", lambda self: pytest.fail("full rescan"))
    after = store.all()
    by_path = {d.path: d for d in after}
    assert by_path["faq/track-order.md"].title == "Aaa first now"
    assert "faq/added.md" in by_path and "policies/no-front-matter.md" not in by_path
    assert by_path["policies/refunds.md"] is before["policies/refunds.md"]  # not re-read
    monkeypatch.undo()
    fresh = ContentStore(content_dir).all()
    assert [d.path for d in after] == [d.path for d in fresh]  # same order as a full scan


def test_store_rescans_after_a_reset(content_dir):
    repo = GitRepo(content_dir)
    store = ContentStore(content_dir, head=repo.head, moves=repo.moves.between)
    first = repo.head()
    store.all()
    commit_file(content_dir, "faq/added.md", "---\naudience: public\n---\nx\n")
    assert "faq/added.md" in {d.path for d in store.all()}
    git(content_dir, "reset", "-q", "--hard", first)
    assert "faq/added.md" not in {d.path for d in store.all()}


def test_public_versions_work_out_only_documents_a_commit_touched(app, content_dir,
                                                                  monkeypatch):
    upcoming = ("---\ntitle: Refunds\naudience: public\neffective: 2099-01-01\n---\n"
                "Future text.\n")
    commit_file(content_dir, "policies/refunds.md", upcoming)
    asked: list[set[str]] = []
    real = catalogue.in_force

    def in_force(repo, docs, on, chains=None):
        asked.append({d.path for d in docs})
        return real(repo, docs, on, chains)

    monkeypatch.setattr(catalogue, "in_force", in_force)
    with app.test_request_context():  # a GET request is one commit's view: two requests
        first = {d.path: d for d in catalogue.visible_documents(PUBLIC)}
    commit_file(content_dir, "faq/track-order.md",
                "---\ntitle: Track\naudience: public\n---\nOther file.\n")
    with app.test_request_context():
        again = {d.path: d for d in catalogue.visible_documents(PUBLIC)}
    assert asked == [{"policies/refunds.md"}]  # the other commit asked nothing
    assert "Future text." not in first["policies/refunds.md"].body
    assert again["policies/refunds.md"].body == first["policies/refunds.md"].body
    assert again["faq/track-order.md"].title == "Track"


def test_a_save_tells_its_own_worker_without_git(app, client, auth, content_dir, counted):
    auth.login("editor")
    client.get("/policies/refunds")  # caches at the old head
    with app.test_request_context():
        old = app.extensions["kb_repo"].head()
        editing.save("policy", "refunds",
                     (content_dir / "policies/refunds.md").read_text() + "\nAdded line.\n",
                     base_rev=old, change=editing.Change("Add a line", "editor"))
    counted.clear()
    page = client.get("/policies/refunds")
    assert "Added line." in page.text
    assert "log" not in counted  # the move was recorded by the save itself
    new = subprocess.run(["git", "-C", str(content_dir), "log", "-1", "--format=%H %cI"],
                         capture_output=True, text=True, check=True).stdout.split()
    change = app.extensions["kb_repo"].changes.last("policies/refunds.md")
    assert change.sha == new[0] and change.when.isoformat() == new[1]


def other_worker(app):
    """A second app on the same content and data directory: another gunicorn worker."""
    from app import create_app

    return create_app({**app.config})


def save_a_line(app, content_dir, line: str) -> tuple[str, str]:
    """Save refunds with one more line, as the portal does; returns (old head, new head)."""
    with app.test_request_context():
        repo = app.extensions["kb_repo"]
        old = repo.head()
        editing.save("policy", "refunds",
                     (content_dir / "policies/refunds.md").read_text() + f"\n{line}\n",
                     base_rev=old, change=editing.Change("Add a line", "editor"))
        return old, repo.head()


def test_another_worker_learns_a_save_without_git(app, client, auth, content_dir, counted):
    other = other_worker(app)
    other.test_client().get("/policies/refunds")  # its caches at the old head
    old, new = save_a_line(app, content_dir, "Shared line.")
    counted.clear()
    assert "Shared line." in other.test_client().get("/policies/refunds").text
    assert "log" not in counted  # read from the move the saving worker left
    move = other.extensions["kb_repo"].moves.between(old, new)
    assert move.paths == {"policies/refunds.md"} and move.commits[0].sha == new


@pytest.mark.parametrize("damage", ["{broken", '{"old": "0000000", "new": "x"}', ""])
def test_a_damaged_shared_move_means_asking_git(app, content_dir, counted, damage):
    other = other_worker(app)
    old, new = save_a_line(app, content_dir, "Line.")
    moves = other.extensions["kb_repo"].moves
    (moves.shared / old).write_text(damage)
    counted.clear()
    move = moves.between(old, new)
    assert "log" in counted and move.paths == {"policies/refunds.md"}


def test_an_unsigned_shared_move_means_asking_git(app, content_dir, counted):
    """A well-formed move file not signed with the secret key is not believed."""
    import json

    other = other_worker(app)
    old, new = save_a_line(app, content_dir, "Line.")
    moves = other.extensions["kb_repo"].moves
    entry = moves.shared / old
    signature, _, payload = entry.read_bytes().partition(b"\n")
    data = json.loads(payload)
    data["paths"] = []
    data["commits"][0][3] = []  # "nothing changed": caches would keep the old text
    entry.write_bytes(signature + b"\n" + json.dumps(data).encode())
    counted.clear()
    move = moves.between(old, new)
    assert "log" in counted and move.paths == {"policies/refunds.md"}


def test_a_commit_built_before_the_lock_is_rebuilt_when_head_moved(app, content_dir):
    """Saves build their commit before queueing for the lock; a save that landed meanwhile
    is not overwritten: the check runs again and the commit goes on top of it."""
    heads: list[str] = []

    def check(head: str) -> None:
        heads.append(head)
        if len(heads) == 1:  # another save lands while this one was being built
            commit_file(content_dir, "faq/other.md", "other\n", "Concurrent")

    with app.app_context():
        new = editing.commit_files({"faq/mine.md": b"mine\n"}, editing.Change("Mine", "ed"),
                                   check)
    assert heads[1] != heads[0] and len(heads) == 2
    assert git(content_dir, "rev-parse", f"{new}^").strip() == heads[1]
    assert (content_dir / "faq/other.md").exists() and (content_dir / "faq/mine.md").exists()
    assert git(content_dir, "status", "--porcelain") == ""


def test_old_shared_moves_are_pruned(app, content_dir):
    import os

    old, _new = save_a_line(app, content_dir, "Line.")
    entry = app.extensions["kb_repo"].moves.shared / old
    assert entry.is_file()
    os.utime(entry, (1, 1))
    sharedfiles.prune(entry.parent, headmoves.SHARED_SECONDS)
    assert not entry.exists()
