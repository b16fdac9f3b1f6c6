"""Helpers for history tests: commit files into a fixture repository like an outside owner."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path


def commit(root: Path, files: dict[str, str | None], message: str, *, date: str | None = None,
           author: str = "Outside Owner") -> str:
    """Write (or delete, for None) files and commit them with git, as a shell user would."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "owner@example.com",
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "owner@example.com"}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date}T12:00:00+00:00"
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-q", "-m", message], check=True, env=env)
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True, env=env).stdout.strip()


def refunds(body: str, *, audience: str = "public", effective: str = "2026-01-01",
            title: str = "Refunds") -> str:
    return (f"---\ntitle: {title}\naudience: {audience}\neffective: {effective}\n---\n"
            f"{textwrap.dedent(body)}")


def refunds_versions(root: Path, *versions: tuple[str, str, str]) -> None:
    """Commit policies/refunds.md once per (text, effective date, commit date), in order:
    a policy with versions that come into force one after another."""
    for text, effective, date in versions:
        commit(root, {"policies/refunds.md": refunds(text, effective=effective)},
               f"Version in force from {effective}", date=date)


def git_out(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True).stdout
