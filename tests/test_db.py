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


# -- one kept connection per thread -----------------------------------------------------------
def test_a_thread_reuses_its_connection_and_sees_other_commits(app):
    with app.app_context():
        first = dbmod.get_db()
    outside = connect(app.config["DATABASE"])
    outside.execute("CREATE TABLE seen (x)")
    outside.execute("INSERT INTO seen VALUES (1)")
    outside.commit()
    with app.app_context():
        again = dbmod.get_db()
        assert again is first
        assert again.execute("SELECT x FROM seen").fetchall()[0][0] == 1


def test_uncommitted_work_is_dropped_at_the_end_of_a_request(app):
    with app.app_context():
        conn = dbmod.get_db()
        conn.execute("CREATE TABLE pending (x)")
        conn.commit()
        conn.execute("INSERT INTO pending VALUES (1)")
        assert conn.in_transaction
    assert not conn.in_transaction
    with app.app_context():
        assert dbmod.get_db().execute("SELECT count(*) FROM pending").fetchone()[0] == 0


def test_a_thread_keeps_few_connections(tmp_path):
    paths = [str(tmp_path / f"db{n}.sqlite3") for n in range(dbmod._KEEP + 3)]
    conns = [dbmod._kept(p) for p in paths]
    assert len(dbmod._threads.conns) == dbmod._KEEP
    with pytest.raises(Exception, match="closed"):
        conns[0].execute("SELECT 1")
    assert dbmod._kept(paths[-1]) is conns[-1]
