"""In-process object writing (pygit2) agrees with the git CLI it replaces, byte for byte."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from app.repo import gitwrite
from app.repo.gitrepo import GitRepo, RefMoved
from tests.conftest import git

WHEN = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30)))


def both_ways(root: Path, monkeypatch, tmp_path: Path, fn):
    """``fn(repo)`` through pygit2, then through the CLI (fresh GitRepo objects)."""
    native = fn(GitRepo(root))
    monkeypatch.setattr(gitwrite, "ENABLED", False)
    cli = fn(GitRepo(root))
    monkeypatch.setattr(gitwrite, "ENABLED", True)
    return native, cli


def test_pygit2_is_used_for_a_plain_repository(content_dir):
    assert GitRepo(content_dir).writer.handle() is not None


@pytest.mark.parametrize("changes", [
    {"policies/refunds.md": b"new text\n"},
    {"policies/refunds.md": None},
    {"policies/new/deep/file.md": "caf\u00e9\n".encode(), "top.md": b""},
    {"faq/track-order.md": None, "faq/other.md": b"x"},
    {"policies/refunds.md": None, "policies/gone.md": None},  # removing what is not there
    {"policies/refunds.md/inner.md": b"a file where a file was"},
])
@pytest.mark.parametrize(("author", "message"), [
    (("editor", "editor@portal.invalid"), "Clarify\n\nPublic-Note: x\nMaterial: no\n"),
    ((" o'neil. ", "<o@x>"), "no trailing newline"),
    (("a<b>c\nd", "e,"), "Unicode \u00fcber \u2713\n\n\n"),
])
def test_commit_matches_the_cli(content_dir, monkeypatch, tmp_path, changes, author, message):
    def build(repo: GitRepo) -> str:
        blobs = {p: (repo.hash_object(d) if d is not None else None) for p, d in changes.items()}
        return repo.make_commit(repo.head(), blobs, message, author=author,
                                tmp_index=tmp_path / "index", when=WHEN)

    native, cli = both_ways(content_dir, monkeypatch, tmp_path, build)
    assert native == cli
    assert git(content_dir, "status", "--porcelain") == ""  # nothing but objects written
    assert subprocess.run(["git", "-C", str(content_dir), "fsck", "--no-dangling"]
                          ).returncode == 0


def test_removing_every_file_gives_the_empty_tree(content_dir, monkeypatch, tmp_path):
    files = git(content_dir, "ls-files").split()

    def build(repo: GitRepo) -> str:
        return repo.make_commit(repo.head(), dict.fromkeys(files), "Empty", when=WHEN,
                                author=("a", "b"), tmp_index=tmp_path / "index")

    native, cli = both_ways(content_dir, monkeypatch, tmp_path, build)
    assert native == cli
    assert git(content_dir, "rev-parse", f"{native}^{{tree}}").strip() == \
        git(content_dir, "hash-object", "-t", "tree", "/dev/null").strip()


def test_blob_lookups_match_the_cli(content_dir, monkeypatch, tmp_path):
    head = git(content_dir, "rev-parse", "HEAD").strip()
    tree = git(content_dir, "rev-parse", "HEAD^{tree}").strip()
    wanted = [(head, "policies/refunds.md"), (head[:7], "faq/track-order.md"),
              (head, "policies"), (head, "policies/"), (head, "policies//refunds.md"),
              (head, "./policies/refunds.md"), (head, ""), (head, "nope.md"),
              ("0" * 40, "policies/refunds.md"), ("abcdef0", "x"), (tree, "policies/refunds.md"),
              (head, "policies/refunds.md/"), (head, "../x"), (head, "-x")]
    native, cli = both_ways(content_dir, monkeypatch, tmp_path, lambda r: r.blobs_at(wanted))
    assert native == cli
    assert native[0] and native[1] and native[10] == native[0]


def test_unusual_repositories_use_the_cli(content_dir, tmp_path):
    git(content_dir, "config", "core.fsync", "all")
    assert GitRepo(content_dir).writer.handle() is None
    sha256 = tmp_path / "sha256"
    made = subprocess.run(["git", "init", "-q", "--object-format=sha256", str(sha256)],
                          capture_output=True)
    if made.returncode == 0:  # git built with SHA-256 support
        assert GitRepo(sha256).writer.handle() is None


def test_each_thread_and_process_has_its_own_handle(content_dir):
    import threading

    writer = GitRepo(content_dir).writer
    mine = writer.handle()
    assert writer.handle() is mine
    other = []
    thread = threading.Thread(target=lambda: other.append(writer.handle()))
    thread.start()
    thread.join()
    assert other[0] is not None and other[0] is not mine


@pytest.mark.parametrize("outside_edit", [False, True])
def test_index_sync_matches_git_reset(content_dir, monkeypatch, tmp_path, outside_edit):
    """After the branch moves and the files are replaced, the index agrees with HEAD (as
    ``git reset -q HEAD -- paths`` leaves it); a work tree holding other bytes than HEAD
    (here an outside edit) is left to ``git reset`` itself."""
    changes = {"policies/refunds.md": b"new text\n", "faq/track-order.md": None,
               "faq/new.md": b"added\n"}

    def save(repo: GitRepo) -> str:
        git(content_dir, "reset", "-q", "--hard", start)
        blobs = {p: (repo.hash_object(d) if d is not None else None) for p, d in changes.items()}
        new = repo.make_commit(start, blobs, "x", author=("a", "b"), when=WHEN,
                               tmp_index=tmp_path / "index")
        repo.update_ref(new, start)
        for path, data in changes.items():
            target = content_dir / path
            if data is None:
                target.unlink()
            else:
                target.write_bytes(b"edited outside\n" if outside_edit else data)
        repo.sync_index(list(changes))
        return git(content_dir, "status", "--porcelain"), git(content_dir, "ls-files", "-s")

    start = git(content_dir, "rev-parse", "HEAD").strip()
    synced = []
    real = gitwrite.sync_index
    monkeypatch.setattr(gitwrite, "sync_index", lambda *a: synced.append(real(*a)) or synced[-1])
    native, cli = both_ways(content_dir, monkeypatch, tmp_path, save)
    assert synced == [not outside_edit]  # pygit2 wrote the index unless git had to
    assert native == cli
    assert native[0] == ("" if not outside_edit else " M faq/new.md\n M policies/refunds.md\n")


def _outside_commit(root: Path) -> str:
    git(root, "commit", "-q", "--allow-empty", "-m", "Outside")
    return git(root, "rev-parse", "HEAD").strip()


def _portal_commit(repo: GitRepo, tmp_path: Path, parent: str) -> str:
    blob = repo.hash_object(b"portal\n")
    return repo.make_commit(parent, {"policies/refunds.md": blob}, "Portal", when=WHEN,
                            author=("a", "b"), tmp_index=tmp_path / "index")


def test_branch_move_is_a_compare_and_swap_against_outside_writers(content_dir, tmp_path,
                                                                    monkeypatch):
    """An outside ``git commit`` landing after the branch was read and before it is written
    makes the move fail instead of being overwritten."""
    repo = GitRepo(content_dir)
    head = repo.head()
    new = _portal_commit(repo, tmp_path, head)
    landed = []
    monkeypatch.setattr(gitwrite, "between_read_and_write",
                        lambda: landed.append(_outside_commit(content_dir)))
    with pytest.raises(RefMoved):
        repo.update_ref(new, head)
    assert len(landed) == 1  # the outside commit did land in between
    assert git(content_dir, "rev-parse", "HEAD").strip() == landed[0]
    assert git(content_dir, "log", "-1", "--format=%s").strip() == "Outside"


@pytest.mark.parametrize("native", [True, False])
def test_branch_move_refuses_a_stale_head_and_a_held_lock(content_dir, tmp_path, monkeypatch,
                                                         native):
    monkeypatch.setattr(gitwrite, "ENABLED", native)
    repo = GitRepo(content_dir)
    head = repo.head()
    new = _portal_commit(repo, tmp_path, head)
    outside = _outside_commit(content_dir)
    with pytest.raises(RefMoved):
        repo.update_ref(new, head)
    assert repo.head() == outside
    lock = repo.git_dir() / "refs" / "heads" / "main.lock"
    lock.write_text("")
    newer = _portal_commit(repo, tmp_path, outside)
    with pytest.raises(RefMoved):
        repo.update_ref(newer, outside)
    assert repo.head() == outside and lock.exists()  # another writer's lock is left alone
    lock.unlink()
    repo.update_ref(newer, outside)
    assert repo.head() == newer
    for ref in ("HEAD", "refs/heads/main"):  # logged like ``git update-ref -m``
        assert git(content_dir, "reflog", "-1", "--format=%H %gs", ref).strip() == \
            f"{newer} portal save"


def test_a_folder_inside_a_larger_repository_uses_the_cli(content_dir):
    assert GitRepo(content_dir / "policies").writer.handle() is None
