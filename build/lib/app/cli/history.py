"""``kb log`` and ``kb restore``: history for owners working in a shell.

A document is named like its URL without the leading slash: ``policies/refunds`` or
``faq/agents/log-credit``.
"""

from __future__ import annotations

import getpass

import click

from app.content.store import KINDS
from app.editing import save as editing
from app.history import revisions as history

KIND_OF = {folder: kind for kind, folder in KINDS.items()}


def parse_name(name: str) -> tuple[str, str]:
    folder, _, slug = name.strip("/").partition("/")
    if folder not in KIND_OF or not slug or history.doc_path(KIND_OF[folder], slug) is None:
        raise click.BadParameter("name a document like policies/refunds or faq/track-order")
    return KIND_OF[folder], slug


def register(kb: click.Group) -> None:
    @kb.command("log")
    @click.argument("name")
    @click.option("-n", "--limit", default=20, show_default=True, help="Newest revisions to list.")
    def log_command(name: str, limit: int) -> None:
        """Revisions of a document (NAME like policies/refunds), newest first."""
        kind, slug = parse_name(name)
        revs = history.revisions(history.doc_path(kind, slug))
        if not revs:
            raise click.ClickException(f"no history for {name}")
        for rev in revs[:limit]:
            e = rev.entry
            click.echo(f"{e.sha[:12]}  v{rev.number:<4} {e.when:%Y-%m-%d %H:%M}  "
                       f"{rev.delta:+6d} B  {e.author}: {e.subject}")
        if len(revs) > limit:
            click.echo(f"... {len(revs) - limit} older revision(s); use -n to see more")

    @kb.command("restore")
    @click.argument("name")
    @click.argument("rev")
    @click.option("-m", "--message", help="Commit message (default: 'Restore version N').")
    @click.option("--author", default=None, help="Author name (default: your login name).")
    def restore_command(name: str, rev: str, message: str | None, author: str | None) -> None:
        """Make revision REV of a document current again, as a new commit."""
        kind, slug = parse_name(name)
        target = history.find(history.revisions(history.doc_path(kind, slug)), rev)
        if target is None:
            raise click.ClickException(f"{rev!r} is not a revision of {name}")
        change = editing.Change(message or f"Restore version {target.number} ({target.sha[:8]})",
                                author or getpass.getuser())
        try:
            new = editing.restore(kind, slug, target.sha, change=change)
        except editing.EditError as exc:
            raise click.ClickException(" ".join(exc.errors)) from None
        click.echo(f"Restored {name} to version {target.number} as commit {new[:12]}.")
