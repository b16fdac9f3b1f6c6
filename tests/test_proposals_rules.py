"""workflow.yml rules, the approver role and its migration, the CLI, and e-mail notices
(sent to a real SMTP server on loopback)."""

from __future__ import annotations

import socket
import sqlite3
import threading

import pytest

from app.accounts.auth import add_user
from app.db import connect, migrate
from app.editing import workflow
from tests.conftest import PASSWORD, git
from tests.history_helpers import git_out
from tests.test_proposals_http import approve, propose_refunds, tip_of

REFUNDS = "policies/refunds.md"


@pytest.fixture
def people(app):
    db = connect(app.config["DATABASE"])
    for name in ("approver", "approver2", "refundsowner"):
        add_user(db, name, PASSWORD, "approver")
    db.close()


def set_rules(content_dir, text: str) -> None:
    (content_dir / "workflow.yml").write_text(text)
    git(content_dir, "add", "workflow.yml")
    git(content_dir, "commit", "-qm", "Rules")


def test_parse_rules_defaults_and_problems():
    assert workflow.parse_rules("").folders == {}
    rules = workflow.parse_rules(
        "approvals: 2\nfolders:\n  policies/refunds:\n    internal: true\n"
        "    approvers: [alice, ghost]\n  faq:\n    approvals: 1\n", known_users=["alice"])
    assert rules.rule_for("policies/refunds.md").internal
    assert rules.rule_for("policies/refunds.md").approvers == ("alice",)
    assert rules.rule_for("policies/refunds.md").approvals == 2
    assert rules.rule_for("faq/x.md").approvals == 1
    assert rules.rule_for("policies/other.md") == rules.default
    assert any("'ghost' is not a user" in p for p in rules.problems)
    broken = workflow.parse_rules("folders: [\n")
    assert broken.folders == {} and "not valid YAML" in broken.problems[0]
    odd = workflow.parse_rules("approvals: 5\nextra: 1\nfolders:\n  x: {internal: maybe}\n")
    assert len(odd.problems) == 3 and odd.default.approvals == 1


def test_internal_changes_gated_per_folder_and_named_approvers(client, auth, content_dir,
                                                              people):
    set_rules(content_dir, "folders:\n  policies/refunds:\n    internal: true\n"
                           "    approvers: [refundsowner]\n")
    auth.login("editor")
    from tests.test_http_edit import form_of

    fields = form_of(client.get("/edit/policies/refunds").text)
    fields["body"] = fields["body"].replace("up to $25", "up to $30")  # internal text only
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1"
    assert "asks for approval of internal changes" in client.get("/proposals/1").text
    auth.logout()
    res = approve(client, auth, "approver")  # not named for this folder
    assert res.status_code == 409 and "refundsowner" in res.text
    assert approve(client, auth, "admin").status_code == 303  # admins always may
    assert "up to $30" in (content_dir / REFUNDS).read_text()


def test_unknown_user_and_broken_file_are_clear_and_defaults_apply(client, auth, runner,
                                                                   content_dir, people):
    set_rules(content_dir, "folders:\n  policies:\n    approvers: [nobody]\n")
    result = runner.invoke(args=["kb", "check"])
    assert "workflow.yml: folder 'policies': approver 'nobody' is not a user" in result.output
    set_rules(content_dir, "folders: [oops\n")
    result = runner.invoke(args=["kb", "check"])
    assert result.exit_code == 1 and "workflow.yml" in result.output
    assert "not valid YAML" in result.output
    propose_refunds(client, auth)  # the default rules: a public change is gated
    auth.login("approver")
    page = client.get("/proposals/1")
    assert page.status_code == 200 and "not valid YAML" in page.text
    assert "not valid YAML" in client.get("/proposals").text
    auth.logout()
    assert approve(client, auth, "approver").status_code == 303


def test_two_approvals(client, auth, content_dir, people):
    set_rules(content_dir, "approvals: 2\n")
    propose_refunds(client, auth)
    assert approve(client, auth, "approver").status_code == 303
    auth.login("approver")
    assert "Needs 2 approvals" in client.get("/proposals/1").text
    auth.logout()
    assert "nearly all" not in (content_dir / REFUNDS).read_text()
    assert approve(client, auth, "approver2").status_code == 303
    message = git_out(content_dir, "log", "-1", "--format=%B")
    assert "Approved-by: approver\n" in message and "Approved-by: approver2" in message


def test_two_approvers_at_once_publish_once(app, content_dir, people):
    clients = [app.test_client() for _ in range(4)]
    from tests.conftest import AuthActions

    propose_refunds(clients[0], AuthActions(clients[0]))
    tips, statuses = [], []
    for c, name in zip(clients, ("approver", "approver2", "refundsowner", "admin"),
                       strict=True):
        AuthActions(c).login(name)
        tips.append(tip_of(c.get("/proposals/1").text))
    start = threading.Barrier(4)

    def go(i):
        start.wait()
        statuses.append(clients[i].post("/proposals/1/approve",
                                        data={"tip": tips[i]}).status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(statuses) == 4 and set(statuses) <= {303, 409}
    merges = git_out(content_dir, "log", "--merges", "--format=%H").split()
    assert len(merges) == 1
    assert "nearly all orders" in (content_dir / REFUNDS).read_text()


def test_users_add_approver_role(runner):
    result = runner.invoke(args=["users", "add", "pat", "--role", "approver",
                                 "--password", PASSWORD])
    assert result.exit_code == 0 and "Created approver pat" in result.output
    assert "pat\tapprover" in runner.invoke(args=["users", "list"]).output


def test_migration_keeps_sessions_and_acknowledgements(tmp_path):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT);
        CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('agent', 'editor', 'admin')),
            session_token TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT (datetime('now')));
        CREATE TABLE login_sessions (id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, started REAL);
        INSERT INTO schema_migrations (name) VALUES ('users'), ('login_sessions');
        INSERT INTO users (username, password_hash, role, session_token)
            VALUES ('kim', 'x', 'editor', 't');
        INSERT INTO login_sessions VALUES ('s1', 1, 0);
    """)
    old.commit()
    old.close()
    conn = connect(path)
    migrate(conn, str(path) + ".lock")
    assert conn.execute("SELECT COUNT(*) FROM login_sessions").fetchone()[0] == 1
    conn.execute("UPDATE users SET role = 'approver' WHERE username = 'kim'")
    conn.commit()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE users SET role = 'boss'")
    conn.execute("DELETE FROM users")  # the foreign key still cascades
    assert conn.execute("SELECT COUNT(*) FROM login_sessions").fetchone()[0] == 0


def test_cli_lists_and_approves(runner, client, auth, content_dir, people):
    propose_refunds(client, auth)
    listed = runner.invoke(args=["kb", "proposals"])
    assert listed.exit_code == 0
    assert "1\topen\teditor\tpolicies/refunds.md\tRefund wording" in listed.output
    own = runner.invoke(args=["kb", "approve", "1", "--as", "editor"])
    assert own.exit_code != 0 and "Only approvers" in own.output
    done = runner.invoke(args=["kb", "approve", "1", "--as", "approver"])
    assert done.exit_code == 0 and "published" in done.output
    assert "nearly all orders" in (content_dir / REFUNDS).read_text()
    assert runner.invoke(args=["kb", "proposals"]).output.strip() == ""
    again = runner.invoke(args=["kb", "approve", "1", "--as", "approver2"])
    assert again.exit_code != 0 and "already published" in again.output


def test_email_to_approvers_and_author(app, client, auth, people):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as probe:  # a free loopback port for the throwaway server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app.config["KB_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        app.config["KB_MAIL_DOMAIN"] = "example.com"
        propose_refunds(client, auth)
        assert any("approver@example.com" in to and "Proposal #1" in body
                   for to, body in inbox.messages)
        assert all("editor@example.com" not in to for to, _ in inbox.messages)
        auth.login("approver")
        client.post("/proposals/1/request-changes",
                    data={"tip": tip_of(client.get("/proposals/1").text), "comment": "No"})
        assert any(to == ["editor@example.com"] and "needs changes" in body
                   for to, body in inbox.messages)
    finally:
        controller.stop()


def test_empty_form_fields_are_no_public_change(app):
    """The form writes ``summary: ''`` and ``tags: []`` for fields a file did not have:
    customers read the same page, so no approval is asked for."""
    old = b"---\ntitle: A\naudience: public\n---\nText.\n"
    new = b"---\ntitle: A\nsummary: ''\naudience: public\ntags: []\n---\nText.\n"
    changed = b"---\ntitle: B\naudience: public\n---\nText.\n"
    with app.app_context():
        rules = workflow.Workflow()
        assert not workflow.decide({"policies/a.md": (old, new)}, rules).gated
        assert workflow.decide({"policies/a.md": (old, changed)}, rules).gated
        assert workflow.decide({"policies/a.md": (None, old)}, rules).gated  # new and public
        internal = old.replace(b"public", b"internal")
        assert not workflow.decide({"policies/a.md": (None, internal)}, rules).gated
        assert workflow.decide({"policies/a.md": (internal, old)}, rules).gated  # goes public
        assert workflow.decide({"policies/a.md": (old, internal)}, rules).gated  # leaves
