"""Named migrations: applied once each, whatever order modules register them in."""

import pytest

from app import db as dbmod
from app.db import MIGRATIONS, connect, migrate, register_migration


def test_migrations_apply_once_and_upgrade_old_databases(tmp_path, monkeypatch):
    path = tmp_path / "x.sqlite3"
    conn = connect(path)
    monkeypatch.setattr(dbmod, "MIGRATIONS", {"users": MIGRATIONS["users"]})
    migrate(conn, str(path) + ".lock")
    register_migration("later_table", "CREATE TABLE later (id INTEGER PRIMARY KEY);")
    migrate(conn, str(path) + ".lock")
    migrate(conn, str(path) + ".lock")  # idempotent
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]
    assert names == ["users", "later_table"]
    conn.execute("INSERT INTO later DEFAULT VALUES")


def test_conflicting_registration_is_refused():
    register_migration("same_step", "CREATE TABLE t1 (id INTEGER);")
    register_migration("same_step", "CREATE TABLE t1 (id INTEGER);")  # re-import is fine
    with pytest.raises(ValueError):
        register_migration("same_step", "CREATE TABLE t2 (id INTEGER);")
    MIGRATIONS.pop("same_step")
