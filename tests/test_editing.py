"""Write side: commits for every operation, stale bases, validation, and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.content.store import repo
from app.editing import save as editing
from app.history import revisions as history
from app.repo import gitwrite
from tests.history_helpers import commit, git_out

REFUNDS = "policies/refunds.md"
ROOT = Path(__file__).resolve().parent.parent


def change(message="Edit", author="editor", **kw) -> editing.Change:
    return editing.Change(message, author, **kw)


def current(content_dir: Path) -> str:
    return (content_dir / REFUNDS).read_text()


@pytest.mark.parametrize("native", [True, False], ids=["pygit2", "git-cli"])
def test_save_commits_with_author_and_trailers(app, content_dir, monkeypatch, native):
    monkeypatch.setattr(gitwrite, "ENABLED", native)
    with app.app_context():
        head = repo().head()
        text = current(content_dir).replace("most orders", "nearly all orders")
        new = editing.save("policy", "refunds", text, base_rev=head,
                           change=change("Clarify", note="Clearer\nwording", material=True))
        assert repo().head() == new
    assert current(content_dir) == text
    log = git_out(content_dir, "log", "-1", "--format=%an|%B")
    assert log.startswith("editor|Clarify\n")
    assert "Public-Note: Clearer wording" in log and "Material: yes" in log
    assert git_out(content_dir, "status", "--porcelain") == ""


def test_stale_base_unrelated_commit_is_not_a_conflict(app, content_dir):
    with app.app_context():
        base = repo().head()
        commit(content_dir, {"faq/track-order.md": "---\naudience: public\n---\nOther.\n"}, "x")
        text = current(content_dir).replace("most orders", "all orders")
        editing.save("policy", "refunds", text, base_rev=base, change=change())
    assert "all orders" in current(content_dir)


def test_stale_base_with_clean_merge(app, content_dir):
    with app.app_context():
        base = repo().head()
        original = current(content_dir)
        commit(content_dir, {REFUNDS: original.replace("30 days of delivery",
                                                       "45 days of delivery")}, "Theirs")
        mine = original.replace("most orders", "nearly all orders")
        with pytest.raises(editing.Conflict) as caught:
            editing.save("policy", "refunds", mine, base_rev=base, change=change())
    conflict = caught.value
    assert conflict.clean and conflict.head == git_out(content_dir, "rev-parse", "HEAD").strip()
    assert "nearly all orders" in conflict.merged and "45 days of delivery" in conflict.merged
    assert conflict.base == original and "45 days" in conflict.theirs
    assert "nearly all orders" not in current(content_dir)  # nothing written on a 409


def test_stale_base_with_overlap_has_markers(app, content_dir):
    with app.app_context():
        base = repo().head()
        original = current(content_dir)
        commit(content_dir, {REFUNDS: original.replace("most orders", "some orders")}, "Theirs")
        with pytest.raises(editing.Conflict) as caught:
            editing.save("policy", "refunds", original.replace("most orders", "all orders"),
                         base_rev=base, change=change())
    assert not caught.value.clean
    assert "<<<<<<< yours" in caught.value.merged and ">>>>>>> theirs" in caught.value.merged


@pytest.mark.parametrize(("text", "slug", "message", "error"), [
    ("---\ntitle: [unclosed\n---\nBody\n", "refunds", "m", "not valid YAML"),
    ("---\naudience: everyone\n---\nBody\n", "refunds", "m", "audience must be public"),
    ("---\neffective: soon\n---\nBody\n", "refunds", "m", "effective must be a date"),
    ("---\naudience: public\n---\nBody\n", "refunds", "  ", "commit message"),
    ("---\naudience: public\n---\nBody\n", "../etc/passwd", "m", "cannot hold a document"),
])
def test_validation_blocks_the_save(app, content_dir, text, slug, message, error):
    before = git_out(content_dir, "rev-parse", "HEAD")
    with app.app_context(), pytest.raises(editing.EditError) as caught:
        editing.save("policy", slug, text, base_rev=repo().head(), change=change(message))
    assert error in " ".join(caught.value.errors)
    assert git_out(content_dir, "rev-parse", "HEAD") == before


def test_create_rename_delete_restore(app, content_dir):
    with app.app_context():
        editing.create("faq", "new-q", "---\naudience: public\n---\nAnswer.\n",
                       change=change("Add"))
        with pytest.raises(editing.EditError):
            editing.create("faq", "new-q", "---\naudience: public\n---\nX\n", change=change())
        editing.rename("faq", "new-q", "renamed-q", change=change("Rename"))
        assert not (content_dir / "faq/new-q.md").exists()
        editing.delete("faq", "renamed-q", change=change("Delete"))
        assert not (content_dir / "faq/renamed-q.md").exists()
        revs = history.revisions("faq/renamed-q.md")
        assert [r.entry.status for r in revs] == ["D", "R", "A"]
        editing.restore("faq", "renamed-q", revs[1].sha[:10], change=change("Restore"))
    assert (content_dir / "faq/renamed-q.md").read_text().endswith("Answer.\n")
    assert git_out(content_dir, "status", "--porcelain") == ""
    assert len(git_out(content_dir, "log", "--format=%H").split()) == 5  # nothing rewritten


def test_restore_cli(runner, content_dir):
    commit(content_dir, {REFUNDS: current(content_dir).replace("most", "few")}, "Bad edit")
    first = git_out(content_dir, "rev-list", "--max-parents=0", "HEAD").strip()
    result = runner.invoke(args=["kb", "restore", "policies/refunds", first[:10],
                                 "--author", "owner"])
    assert result.exit_code == 0, result.output
    assert "most orders" in current(content_dir)
    assert git_out(content_dir, "log", "-1", "--format=%an %s") == "owner Restore version 1 " \
        f"({first[:8]})\n"
    log = runner.invoke(args=["kb", "log", "policies/refunds"])
    assert log.exit_code == 0 and log.output.count("\n") == 3 and "Bad edit" in log.output
    assert runner.invoke(args=["kb", "log", "policies/../x"]).exit_code != 0


# -- crash safety ---------------------------------------------------------------------------
CRASH_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from app import create_app
    from app.editing import save as editing
    from app.repo import gitwrite
    step, data_dir, content_dir, native = sys.argv[1:5]
    gitwrite.ENABLED = native == "pygit2"
    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "KB_DATA_DIR": data_dir,
                      "KB_CONTENT_DIR": content_dir})

    def checkpoint(name):
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    editing.checkpoint = checkpoint
    with app.app_context():
        text = open(content_dir + "/policies/refunds.md").read().replace("most", "CRASHED")
        editing.save("policy", "refunds", text, base_rev=editing.repo().head(),
                     change=editing.Change("Crash", "editor"))
""")


@pytest.mark.slow
@pytest.mark.parametrize(("step", "lands", "native"), [
    ("committed", False, "pygit2"), ("journal", False, "pygit2"), ("ref", True, "pygit2"),
    ("worktree", True, "pygit2"), ("journal", False, "git-cli"), ("ref", True, "git-cli")])
def test_sigkill_during_save(app, content_dir, tmp_path, step, lands, native):
    before = current(content_dir)
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, step,
                           app.config["KB_DATA_DIR"], str(content_dir), native],
                          cwd=ROOT, capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    if step != "worktree":
        assert current(content_dir) == before  # the page still serves the previous version
    assert subprocess.run(["git", "-C", str(content_dir), "fsck"]).returncode == 0
    with app.app_context():  # the next writer finishes or discards the interrupted save
        with editing.write_lock():
            pass
        assert ("CRASHED" in current(content_dir)) == lands
        editing.save("policy", "refunds", current(content_dir).replace("30 days", "31 days"),
                     base_rev=repo().head(), change=change("Next"))
    assert "31 days" in current(content_dir)
    assert ("CRASHED" in current(content_dir)) == lands
    assert subprocess.run(["git", "-C", str(content_dir), "fsck"]).returncode == 0
    assert git_out(content_dir, "status", "--porcelain") == ""
    assert not (Path(app.config["KB_DATA_DIR"]) / "write.journal").exists()


def test_failure_between_steps_keeps_previous_version(app, content_dir, monkeypatch):
    def boom(step):
        if step == "journal":
            raise OSError("disk full")

    monkeypatch.setattr(editing, "checkpoint", boom)
    before = current(content_dir)
    with app.app_context():
        head = repo().head()
        with pytest.raises(OSError):
            editing.save("policy", "refunds", before.replace("most", "x"), base_rev=head,
                         change=change())
        assert repo().head() == head
        monkeypatch.setattr(editing, "checkpoint", lambda step: None)
        editing.save("policy", "refunds", before.replace("most", "y"), base_rev=head,
                     change=change())
    assert "y orders" in current(content_dir)
    assert os.path.exists(content_dir / REFUNDS)
