"""The command line: kb init, kb check, users add."""

from app import create_app
from app.accounts.auth import verify_password
from tests.conftest import git


def test_kb_check_clean(runner):
    result = runner.invoke(args=["kb", "check"])
    assert result.exit_code == 0, result.output
    assert "no problems" in result.output


def test_kb_check_reports_path_and_line(runner, content_dir):
    (content_dir / "policies" / "bad.md").write_text("---\ntitle: x\naudience: pub\n---\nx\n")
    (content_dir / "policies" / "open.md").write_text(
        "---\naudience: public\n---\nText\n\n::: internal\nnever closed\n")
    (content_dir / "policies" / "bad name.md").write_text("# x\n")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "Problems")
    result = runner.invoke(args=["kb", "check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "policies/bad.md:3: audience must be public or internal, not 'pub'" in lines
    assert any(line.startswith("policies/open.md:6: '::: internal' is never closed")
               for line in lines)
    assert any(line.startswith("policies/bad name.md: file name cannot be served")
               for line in lines)


def test_kb_init_seeds_and_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_CONTENT_DIR", raising=False)
    data = tmp_path / "data"
    app = create_app({"TESTING": True, "KB_DATA_DIR": str(data)})
    runner = app.test_cli_runner()
    first = runner.invoke(args=["kb", "init"])
    assert first.exit_code == 0, first.output
    assert "seeded with the bundled content" in first.output
    assert "password:" in first.output
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (data / "content" / "policies" / "refunds.md").exists()
    head = git(data / "content", "rev-parse", "HEAD")
    second = runner.invoke(args=["kb", "init"])
    assert second.exit_code == 0
    assert "password:" not in second.output, "the admin password is printed once"
    assert git(data / "content", "rev-parse", "HEAD") == head


def test_kb_init_leaves_an_existing_repository_alone(runner, content_dir):
    head = git(content_dir, "rev-parse", "HEAD")
    result = runner.invoke(args=["kb", "init", "--no-admin"])
    assert "existing, left unchanged" in result.output
    assert git(content_dir, "rev-parse", "HEAD") == head
    assert git(content_dir, "status", "--porcelain") == ""


def test_users_add_with_password_and_stdin(app, runner):
    result = runner.invoke(args=["users", "add", "dana", "--role", "editor",
                                 "--password", "a long password"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "add", "erik"], input="stdin password 1\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert verify_password("dana", "a long password").role == "editor"
        assert verify_password("erik", "stdin password 1").role == "agent"


def test_users_add_rejects_bad_input(runner):
    assert "at least" in runner.invoke(args=["users", "add", "x1", "--password", "short"]).output
    result = runner.invoke(args=["users", "add", "agent", "--password", "long enough pw"])
    assert result.exit_code != 0 and "already exists" in result.output
    result = runner.invoke(args=["users", "add", "bad name", "--password", "long enough pw"])
    assert result.exit_code != 0


def test_kb_check_reports_broken_synonyms_and_jargon(runner, content_dir):
    (content_dir / "synonyms.yml").write_text("- [refund, money back\n")
    (content_dir / "jargon.yml").write_text("just: a mapping\n")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "Lists")
    result = runner.invoke(args=["kb", "check"])
    assert result.exit_code == 1
    assert any(line.startswith("synonyms.yml:") and "not valid YAML" in line
               for line in result.output.splitlines())
    assert "jargon.yml:1: must be a list" in result.output
