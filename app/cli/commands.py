"""Command line: ``flask --app wsgi kb ...`` (content) and ``... users ...`` (accounts)."""

from __future__ import annotations

import secrets
import sys

import click
import yaml
from flask import Flask, current_app
from flask.cli import AppGroup

from app import config
from app.accounts import auth
from app.cli.backup import run_backup
from app.cli.history import register
from app.cli.proposals import register as register_proposals
from app.cli.seed import seed_repository
from app.config import BUNDLED_CONTENT, SEED_HISTORY
from app.content.audience import split_blocks
from app.content.store import Problem, store
from app.db import get_db
from app.editing import proposals, workflow
from app.lifecycle import search_log
from app.lifecycle.dashboard import overdue_report
from app.search import index as search_index
from app.search.service import service

kb = AppGroup("kb", help="Content: initialise, check, and maintain the portal.")
users = AppGroup("users", help="Staff accounts.")


@kb.command("init")
@click.option("--no-admin", is_flag=True, help="Do not create the first admin account.")
def init_command(no_admin: bool) -> None:
    """Create the data dir, secret key and content repository; build what is needed.

    Safe to run again: nothing that exists is overwritten.
    """
    app = current_app
    data_dir = app.config["KB_DATA_DIR"]
    if config.generate_secret_key(data_dir):
        click.echo(f"Generated a secret key in {config.secret_key_path(data_dir)}")
    repo = app.extensions["kb_repo"]
    if repo.is_repo():
        click.echo(f"Content repository: {repo.root} (existing, left unchanged)")
    elif not repo.root.exists() or not any(repo.root.iterdir()):
        commits = seed_repository(repo, BUNDLED_CONTENT, SEED_HISTORY)
        click.echo(f"Content repository: {repo.root} (created, seeded with the bundled content "
                   f"and {commits} commits of history)")
    else:
        repo.adopt()
        click.echo(f"Content repository: {repo.root} (created, existing files committed)")
    if service().ensure(announce=lambda _m: None):
        click.echo(f"Built the search index ({len(store().all())} documents)")
    db = get_db()
    if not no_admin and auth.user_count(db) == 0:
        password = secrets.token_urlsafe(12)
        auth.add_user(db, "admin", password, "admin")
        click.echo("Created the first account. It is shown only this once:")
        click.echo("    username: admin")
        click.echo(f"    password: {password}")
    _prune()
    docs = store().all()
    click.echo(f"Ready: {len(docs)} documents "
               f"({sum(d.is_public for d in docs)} public).")


@kb.command("prune")
def prune_command() -> None:
    """Delete search analytics older than KB_ANALYTICS_RETENTION_DAYS."""
    _prune()


def _prune() -> None:
    cutoff = search_log.retention_cutoff()
    if cutoff is None:
        click.echo("Search analytics: kept forever (KB_ANALYTICS_RETENTION_DAYS=0)")
        return
    gone = search_log.prune(get_db(), cutoff)
    click.echo(f"Search analytics: deleted {gone} rows from before {cutoff.isoformat()} "
               f"(KB_ANALYTICS_RETENTION_DAYS={current_app.config['KB_ANALYTICS_RETENTION_DAYS']})")


def check_problems() -> list[Problem]:
    """Every problem in the content tree, in path order."""
    problems: list[Problem] = []
    st = store()
    for path in st.unsafe_files():
        problems.append(Problem(path, None, "file name cannot be served; use letters, digits, "
                                            "'-', '_' and '.' only"))
    for doc in st.all():
        problems.extend(doc.problems)
        for line, message in split_blocks(doc.body)[1]:
            problems.append(Problem(doc.path, doc.body_start + line - 1, message))
    problems.extend(_list_file_problems("synonyms.yml", st.committed("synonyms.yml"),
                                        "[word, word, ...] groups"))
    problems.extend(_list_file_problems("jargon.yml", st.committed("jargon.yml"),
                                        "{term: ..., hint: ...} entries"))
    problems.extend(Problem(workflow.FILE, None, message.removeprefix(f"{workflow.FILE}: "))
                    for message in proposals.rules().problems)
    return sorted(problems, key=lambda p: (p.path, p.line or 0))


def _list_file_problems(name: str, text: bytes | None, what: str) -> list[Problem]:
    """The owner-edited YAML lists (synonyms, jargon) must parse, or they are ignored."""
    if text is None:
        return []
    try:
        data = yaml.safe_load(text.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        return [Problem(name, mark.line + 1 if mark else None,
                        f"not valid YAML ({getattr(exc, 'problem', None) or exc}); ignored")]
    if data is not None and not isinstance(data, list):
        return [Problem(name, 1, f"must be a list of {what}; ignored")]
    return [Problem(name, None, f"entry {number} is not one of the {what}; skipped")
            for number, entry in enumerate(data or [], start=1)
            if not isinstance(entry, list | dict)]


@kb.command("check")
def check_command() -> None:
    """Validate every document; print 'path:line: problem'; exit 1 if any."""
    problems = check_problems()
    for problem in problems:
        click.echo(str(problem))
    # Served is what is committed: an edit left in the work tree is not published.
    for path in store().uncommitted():
        click.echo(f"{path}: uncommitted change, not served until committed")
    total = len(store().all())
    if problems:
        click.echo(f"{len(problems)} problem(s) in {total} documents.", err=True)
        sys.exit(1)
    click.echo(f"{total} documents, no problems.")


@kb.command("reindex")
def reindex_command() -> None:
    """Rebuild the search index from the content repository (safe while the site runs)."""
    svc = service()
    total = len(svc.store.all())
    with click.progressbar(length=total, label="Indexing documents") as bar, \
            search_index.locked(svc.root):
        counts = svc.rebuild_locked(progress=bar.update)
    click.echo(f"Indexed {total} documents: {counts['public']} public and "
               f"{counts['staff']} staff records.")


@kb.command("due")
@click.option("--within", type=click.IntRange(0, 366), default=0,
              help="Also list documents due within this many days.")
def due_command(within: int) -> None:
    """Print documents overdue for review (for a cron e-mail); tab-separated."""
    report = overdue_report(within=within)
    for doc, status in report:
        late = f"{-status.days} days overdue" if status.overdue else f"due in {status.days} days"
        click.echo(f"{doc.path}\t{doc.owner or '-'}\t{status.due.isoformat()}\t{late}")
    if not report:
        click.echo("Nothing is overdue." if not within else f"Nothing due within {within} days.")


@kb.command("backup")
@click.option("--dest", type=click.Path(file_okay=False),
              help="Directory for the files (default: KB_BACKUP_DIR, else KB_DATA_DIR/backups).")
def backup_command(dest: str | None) -> None:
    """Write a consistent copy of the database and a git bundle of the content."""
    from pathlib import Path

    app = current_app
    target = Path(dest or app.config.get("KB_BACKUP_DIR")
                  or Path(app.config["KB_DATA_DIR"]) / "backups")
    repo = app.extensions["kb_repo"]
    if not repo.is_repo():
        raise click.ClickException(f"{repo.root} is not a git repository; run 'kb init' first")
    for path in run_backup(app.config["DATABASE"], repo, target):
        click.echo(f"Wrote {path}")


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(auth.ROLES), default="agent", show_default=True)
@click.option("--password", help="Read from a prompt (or one line of stdin) when omitted.")
def add_user_command(username: str, role: str, password: str | None) -> None:
    """Create a staff account."""
    password = password or _read_password()
    try:
        auth.add_user(get_db(), username, password, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # sqlite3.IntegrityError: the name is taken
        if "UNIQUE" in str(exc):
            raise click.ClickException(f"user {username!r} already exists") from None
        raise
    click.echo(f"Created {role} {username}.")


@users.command("passwd")
@click.argument("username")
@click.option("--password", help="Read from a prompt (or one line of stdin) when omitted.")
def passwd_command(username: str, password: str | None) -> None:
    """Set a new password; signs the user out everywhere."""
    password = password or _read_password()
    try:
        changed = auth.set_password(get_db(), username, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not changed:
        raise click.ClickException(f"no user {username!r}")
    click.echo(f"Password changed for {username}; their sessions are signed out.")


@users.command("list")
def list_command() -> None:
    """List accounts and roles."""
    for row in get_db().execute("SELECT username, role, created_at FROM users ORDER BY username"):
        click.echo(f"{row['username']}\t{row['role']}\t{row['created_at']}")


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


def init_app(app: Flask) -> None:
    if "log" not in kb.commands:
        register(kb)
    if "approve" not in kb.commands:
        register_proposals(kb)
    app.cli.add_command(kb)
    app.cli.add_command(users)
