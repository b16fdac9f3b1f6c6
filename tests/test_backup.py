"""`kb backup`: a consistent database copy and a restorable bundle of the content."""

import sqlite3
import subprocess
from pathlib import Path


def test_backup_writes_database_copy_and_bundle(app, runner, tmp_path):
    dest = tmp_path / "bk"
    result = runner.invoke(args=["kb", "backup", "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    db_copy = next(dest.glob("portal-*.sqlite3"))
    bundle = next(dest.glob("content-*.bundle"))
    assert str(db_copy) in result.output and str(bundle) in result.output
    names = {r[0] for r in sqlite3.connect(db_copy).execute("SELECT username FROM users")}
    assert names == {"agent", "editor", "admin"}
    clone = tmp_path / "restored"
    subprocess.run(["git", "clone", "-q", str(bundle), str(clone)], check=True)
    assert (clone / "policies" / "refunds.md").read_text() == (
        Path(app.config["KB_CONTENT_DIR"]) / "policies" / "refunds.md").read_text()
    assert not list(dest.glob("*.part"))


def test_backup_default_dir_and_no_overwrite(app, runner):
    first = runner.invoke(args=["kb", "backup"])
    assert first.exit_code == 0, first.output
    backups = Path(app.config["KB_DATA_DIR"]) / "backups"
    assert len(list(backups.glob("portal-*.sqlite3"))) == 1


def test_backup_consistent_while_writing(app, tmp_path):
    """The online backup sees a committed state even with an open write transaction."""
    from app.cli.backup import backup_database

    writer = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM users")
    copy = backup_database(app.config["DATABASE"], tmp_path / "copy.sqlite3")
    writer.execute("ROLLBACK")
    assert sqlite3.connect(copy).execute("SELECT COUNT(*) FROM users").fetchone()[0] == 3
