"""SHA-256 content repositories (``git init --object-format=sha256``): commit ids have 64 hex
digits, libgit2 cannot open them (the git CLI does every write), and a save, a restore, a
diff and the history all work."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from app import create_app
from app.accounts.auth import add_user
from app.db import connect
from app.repo.gitrepo import is_valid_rev
from tests.conftest import PASSWORD, git
from tests.test_http_edit import form_of

# Internal documents: their saves publish at once (a public change would be a proposal, which
# tests/test_proposals_http.py covers), so this tests the write path itself.
REFUNDS = """\
    ---
    title: Refunds
    audience: internal
    ---
    We refund most orders within 30 days.
    """


@pytest.fixture
def sha256_app(tmp_path: Path):
    root = tmp_path / "content"
    root.mkdir()
    git(root, "init", "-q", "--object-format=sha256", "-b", "main")
    git(root, "config", "user.name", "Fixture")
    git(root, "config", "user.email", "fixture@example.com")
    (root / "policies").mkdir()
    (root / "policies" / "refunds.md").write_text(textwrap.dedent(REFUNDS))
    (root / "policies" / "old.md").write_text("---\ntitle: Old\naudience: internal\n---\nGone.\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Fixture content")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key-not-for-production",
                      "KB_DATA_DIR": str(tmp_path / "data"), "KB_CONTENT_DIR": str(root),
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    db = connect(app.config["DATABASE"])
    add_user(db, "editor", PASSWORD, "editor")
    db.close()
    return app, root


def test_revision_ids_of_either_length_are_accepted():
    assert is_valid_rev("a" * 64) and is_valid_rev("a" * 40) and is_valid_rev("abc1234")
    assert not is_valid_rev("a" * 65) and not is_valid_rev("g" * 64)


def test_save_restore_diff_and_history_in_a_sha256_repository(sha256_app):
    app, root = sha256_app
    first = git(root, "rev-parse", "HEAD").strip()
    assert len(first) == 64
    client = app.test_client()
    client.post("/login", data={"username": "editor", "password": PASSWORD})

    fields = form_of(client.get("/edit/policies/refunds").text)
    assert fields["base_rev"] == first  # the form carries the 64-digit id
    fields.update(body=fields["body"].replace("most orders", "nearly all orders"),
                  message="Say nearly all")
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 302, res.text
    saved = git(root, "rev-parse", "HEAD").strip()
    assert saved != first and len(saved) == 64
    assert "nearly all orders" in git(root, "show", "HEAD:policies/refunds.md")
    assert "nearly all orders" in client.get("/policies/refunds").text

    history = client.get("/history/policies/refunds")
    assert history.status_code == 200 and saved[:12] in history.text
    diff = client.get(f"/diff/policies/refunds?from={first}&to={saved}&mode=source")
    assert diff.status_code == 200 and "<ins>nearly all</ins> orders" in diff.text
    assert client.get(f"/diff/policies/refunds?from={first[:10]}&to={saved[:10]}"
                      "&mode=source").status_code == 200

    res = client.post("/restore/policies/refunds", data={"rev": first, "message": "Back"})
    assert res.status_code in (302, 303), res.text
    assert "most orders" in git(root, "show", "HEAD:policies/refunds.md")
    assert "most orders" in client.get("/policies/refunds").text

    # A delete goes through the removal path of the CLI commit (a 64-digit null id).
    res = client.post("/delete/policies/old", data={"message": "Remove old"})
    assert res.status_code in (302, 303), res.text
    assert "policies/old.md" not in git(root, "ls-tree", "-r", "--name-only", "HEAD")
    assert client.get("/policies/old").status_code == 404
    assert re.fullmatch(r"[0-9a-f]{64}", git(root, "rev-parse", "HEAD").strip())
