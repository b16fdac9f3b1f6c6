"""Seed a new content repository from the bundled ``content/`` with a realistic history.

``seed/history.yml`` lists commits oldest first; see the comment at its top.  Replaying
them gives a new portal versions to compare, material changes to acknowledge, a public
change log and an upcoming change, instead of one flat import.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from app.repo.gitrepo import GitRepo


class SeedError(ValueError):
    pass


def _undo(text: str, changes: list[dict], path: str) -> str:
    for change in reversed(changes):
        before, after = change["before"], change["after"]
        if after not in text:
            raise SeedError(f"seed history: {path!r} does not contain {after!r}")
        text = text.replace(after, before)
    return text


def earliest_texts(source: Path, steps: list[dict]) -> dict[str, str]:
    """Each file of ``source`` with every later step undone (newest first)."""
    texts = {p.relative_to(source).as_posix(): p.read_text(encoding="utf-8")
             for p in sorted(source.rglob("*")) if p.is_file()}
    for step in reversed(steps[1:]):
        for path, changes in (step.get("changes") or {}).items():
            texts[path] = _undo(texts[path], changes, path)
    return texts


def message_for(step: dict) -> str:
    trailers = [f"Material: {'yes' if step.get('material') else 'no'}"]
    if step.get("public_note"):
        trailers.append(f"Public-Note: {' '.join(str(step['public_note']).split())}")
    return f"{step['message']}\n\n" + "\n".join(trailers)


def seed_repository(repo: GitRepo, source: Path, history: Path) -> int:
    """Create the repository at ``repo.root`` from ``source``; returns commits made."""
    steps = yaml.safe_load(history.read_text(encoding="utf-8")) if history.is_file() else []
    if not steps:
        steps = [{"date": None, "author": ["Policy portal", "portal@localhost"],
                  "message": "Import the bundled content"}]
    texts = earliest_texts(source, steps)
    repo.root.mkdir(parents=True, exist_ok=True)
    repo.git("init", "-q", "-b", "main")
    for rel, text in texts.items():
        target = repo.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for number, step in enumerate(steps):
        for path, changes in (step.get("changes") or {}).items() if number else ():
            target = repo.root / path
            text = target.read_text(encoding="utf-8")
            for change in changes:
                text = text.replace(change["before"], change["after"])
            target.write_text(text, encoding="utf-8")
        repo.git("add", "-A")
        date = str(step["date"]) if step.get("date") else None
        repo.commit(message_for(step), author=tuple(step["author"]), date=date,
                    allow_empty=True)
    _check_matches(repo.root, source)
    return len(steps)


def _check_matches(root: Path, source: Path) -> None:
    for path in source.rglob("*"):
        if path.is_file():
            rel = path.relative_to(source)
            if (root / rel).read_bytes() != path.read_bytes():
                raise SeedError(f"seed history does not end at the bundled {rel}")

