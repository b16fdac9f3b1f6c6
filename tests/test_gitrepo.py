"""The git layer: HEAD from files, and the incremental change map."""

import subprocess

from app.repo.gitrepo import GitRepo, is_valid_rev
from tests.conftest import git


def _commit(root, name, text, message):
    (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def test_head_read_from_files_matches_git(content_dir):
    assert GitRepo(content_dir).head() == git(content_dir, "rev-parse", "HEAD").strip()
    git(content_dir, "pack-refs", "--all")
    assert GitRepo(content_dir).head() == git(content_dir, "rev-parse", "HEAD").strip()


def test_change_map_follows_new_commits_and_material_trailer(content_dir):
    repo = GitRepo(content_dir)
    first = repo.changes.last("policies/refunds.md")
    assert first is not None and not first.material
    assert repo.changes.last_material("policies/refunds.md") is None
    sha = _commit(content_dir, "policies/refunds.md", "new", "Change\n\nMaterial: yes")
    assert repo.changes.last("policies/refunds.md").sha == sha
    assert repo.changes.last_material("policies/refunds.md").sha == sha
    cosmetic = _commit(content_dir, "policies/refunds.md", "newer", "Typo\n\nMaterial: no")
    assert repo.changes.last("policies/refunds.md").sha == cosmetic
    assert repo.changes.last_material("policies/refunds.md").sha == sha
    assert repo.changes.last("faq/track-order.md").sha != sha  # untouched files keep theirs


def test_change_map_survives_history_rewrite(content_dir):
    repo = GitRepo(content_dir)
    before = repo.changes.last("policies/refunds.md")
    _commit(content_dir, "policies/refunds.md", "new", "Change")
    assert repo.changes.last("policies/refunds.md") != before
    git(content_dir, "reset", "-q", "--hard", "HEAD~1")
    assert repo.changes.last("policies/refunds.md") == before


def test_rev_allow_list():
    assert is_valid_rev("0123abc")
    for bad in ("HEAD", "--all", "abc", "0123abc..fff", "0123abc^", "x" * 40, "", "0123ABCG"):
        assert not is_valid_rev(bad)


def test_save_plumbing_without_processes_agrees_with_git(content_dir):
    """Blob ids, the branch name and several blob look-ups in one process give what the
    git commands they replace give."""
    repo = GitRepo(content_dir)
    head = repo.head()
    for data in (b"", b"text\n", "caf\u00e9\n".encode(), b"\x00binary"):
        made = subprocess.run(["git", "-C", str(content_dir), "hash-object", "--stdin"],
                              input=data, capture_output=True, check=True).stdout
        assert repo.hash_object_dry(data) == made.decode().strip()
    assert repo.branch_ref() == git(content_dir, "symbolic-ref", "HEAD").strip()
    refunds = git(content_dir, "rev-parse", f"{head}:policies/refunds.md").strip()
    assert repo.blobs_at([(head, "policies/refunds.md"), (head, "policies/gone.md"),
                          ("zzz", "policies/refunds.md"), (head, "policies"),
                          (head, "../etc/passwd"), (head[:8], "policies/refunds.md")]
                         ) == [refunds, "", "", "", "", refunds]
    assert repo.blob_at(head, "faq/track-order.md")


def test_reads_never_rewrite_the_index_behind_an_editors_back(content_dir):
    """``git status`` refreshes the index (taking index.lock) when a file's stat data
    changed; an editor committing with git at that moment would fail.  Ours does not."""
    import os

    index = content_dir / ".git" / "index"
    tracked = content_dir / "policies" / "refunds.md"
    os.utime(tracked, (1_000_000_000, 1_000_000_000))  # same text, new stat data
    os.utime(index, (1_000_000_000, 1_000_000_000))
    before = index.stat().st_mtime_ns
    GitRepo(content_dir).git("status", "--porcelain")
    assert index.stat().st_mtime_ns == before
    subprocess.run(["git", "-C", str(content_dir), "status", "--porcelain"], check=True,
                   capture_output=True)
    assert index.stat().st_mtime_ns != before  # plain git would have rewritten it
