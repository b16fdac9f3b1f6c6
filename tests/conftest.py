"""Fixtures in the flaskr style: ``app``, ``client``, ``runner``, ``auth``, plus a content repo.

Every test gets its own git repository of fixture documents and its own data directory.
Canary strings mark text that anonymous visitors must never see.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from app import create_app
from app.accounts.auth import add_user
from app.db import connect

CANARY_DOC = "canaryinternaldoc"  # only in an internal document
CANARY_TITLE = "Canarytitle Escalation Secrets"  # title of an internal document
CANARY_BLOCK = "canaryblockword"  # only inside an internal block of a public document
PASSWORD = "correct horse battery"

FIXTURE_DOCS = {
    "policies/refunds.md": f"""\
        ---
        title: Refunds
        summary: When we refund your money.
        audience: public
        owner: refunds@example.com
        tags: [money, orders]
        effective: 2026-01-01
        review_by: 2027-01-01
        ---
        We refund most orders.

        ## Refund window

        You can ask for a refund within 30 days of delivery.

        ::: internal
        Agents may approve a goodwill credit up to $25 ({CANARY_BLOCK}).
        :::

        ## Late claims

        Claims after 30 days go to the returns team.
        """,
    "policies/escalation.md": f"""\
        ---
        title: {CANARY_TITLE}
        audience: internal
        tags: [escalation]
        ---
        Tier 2 handles {CANARY_DOC} cases within 4 hours.
        """,
    "policies/no-front-matter.md": """\
        # Handbook page

        Written without front matter, so it is internal.
        """,
    "faq/track-order.md": """\
        ---
        title: How do I track my order?
        audience: public
        tags: [orders]
        ---
        Use the link in your shipping email.
        """,
    "faq/agents/log-credit.md": f"""\
        ---
        title: How do I log a credit?
        audience: internal
        tags: [for-agents]
        ---
        Use the credit form ({CANARY_DOC}).
        """,
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Fixture")
    git(root, "config", "user.email", "fixture@example.com")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Fixture content")
    return root


@pytest.fixture(autouse=True)
def index_every_commit(monkeypatch):
    """In-process tests commit and search at once: no pause between index writes and no
    catch-up in the background (both are tested in test_search_speed, and live servers
    keep them)."""
    from app.search import service as search

    monkeypatch.setattr(search, "UPDATE_EVERY", 0.0)
    monkeypatch.setattr(search, "CATCH_UP_IN_BACKGROUND", False)


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "content", FIXTURE_DOCS)


@pytest.fixture
def app(tmp_path: Path, content_dir: Path):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_CONTENT_DIR": str(content_dir),
        "RATELIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
    })
    db = connect(app.config["DATABASE"])
    for name, role in (("agent", "agent"), ("editor", "editor"), ("admin", "admin")):
        add_user(db, name, PASSWORD, role)
    db.close()
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username: str = "agent", password: str = PASSWORD):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)
