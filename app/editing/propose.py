"""Saving through the rules: a gated edit becomes (or extends) the editor's proposal.

``decide_save`` tells the editor before saving which will happen; ``save_or_propose`` does
it.  Proposal commits are written by ``save.commit_on`` (same objects, lock and
compare-and-swap as every save).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from app.content.store import is_safe_slug, repo
from app.editing import notify, proposals, workflow
from app.editing import save as editing
from app.editing.proposals import Proposal, ProposalError
from app.editing.save import Change, Conflict, EditError
from app.history import revisions as history
from app.repo import branches


@dataclass
class Outcome:
    """A save's result: published directly (``commit``) or as proposal ``proposal``."""

    commit: str = ""
    proposal: Proposal | None = None


path_of = editing.path_of


def decide_save(path: str, text: str | None, author: str) -> tuple[workflow.Decision,
                                                                   Proposal | None]:
    """What saving ``text`` at ``path`` would do: the rules' decision and, when the author
    already has an open proposal for it, that proposal (the save then extends it)."""
    existing = proposals.open_for(author, path)
    git = repo()
    old = git.read_file(git.head(), path)
    new = text.encode() if text is not None else None
    return workflow.decide({path: (old, new)}, proposals.rules()), existing


def _check_same(base_rev: str, at: str, path: str, data: bytes, text: str):
    """``check`` for a save onto ``at``: the form must be based on its version of ``path``."""
    git = repo()

    def check(_parent: str) -> None:
        base_blob, at_blob = git.blobs_at([(base_rev, path), (at, path)])
        if base_blob != at_blob:
            blobs = git.read_blobs([base_blob, at_blob])
            base, theirs = blobs.get(base_blob, b""), blobs.get(at_blob, b"")
            merged, clean = git.merge_file(data, base, theirs,
                                           Path(current_app.config["KB_DATA_DIR"]))
            raise Conflict(base.decode(errors="replace"), theirs.decode(errors="replace"),
                           text, merged.decode(errors="replace"), clean, at)
        if at_blob and git.hash_object_dry(data) == at_blob:
            raise EditError("Nothing changed: the text is the same as the current version.")

    return check


def save_or_propose(kind: str, slug: str, text: str, *, base_rev: str, change: Change,
                    creating: bool = False) -> Outcome:
    """Save an edit: directly when the rules allow it, else as a commit on the author's
    proposal for the document (an admin's emergency then publishes that proposal)."""
    path = path_of(kind, slug)
    decision, existing = decide_save(path, text, change.author)
    if existing is None and not decision.gated:
        if creating:
            return Outcome(commit=editing.create(kind, slug, text, change=change))
        return Outcome(commit=editing.save(kind, slug, text, base_rev=base_rev, change=change))
    errors = editing.validate(kind, slug, text)
    if not change.message.strip():
        errors.append("Describe the change in the commit message.")
    if errors:
        raise EditError(*errors)
    git = repo()
    data = text.encode()
    if existing is not None:
        tip = branches.tip(git, existing.ref)
        if not tip:
            raise EditError(f"The branch of proposal #{existing.id} is gone; restore it on "
                            "its page first. Your text is kept below.")
        new = editing.commit_on(existing.ref, tip, {path: data}, change,
                                _check_same(base_rev, tip, path, data, text))
        proposals.note_tip(existing, new, change.author)
        return Outcome(proposal=proposals.get(existing.id))
    head = git.head()
    if creating and git.blob_at(head, path):
        raise EditError(f"A document already exists at {path}.")
    check = None if creating else _check_same(base_rev, head, path, data, text)
    return _new_proposal({path: data}, change, head, decision, check)


def _new_proposal(files: dict[str, bytes | None], change: Change, head: str,
                  decision: workflow.Decision, check=None) -> Outcome:
    """A new proposal branch on ``head`` holding ``files`` as its first commit."""
    proposal = proposals.allocate(change.message.strip(), change.author, list(files))
    try:
        new = editing.commit_on(proposal.ref, "", files, change, check, parent=head)
    except BaseException:
        proposals.forget(proposal.id)
        raise
    proposals.record(proposal.id, "open", change.author, body="; ".join(decision.reasons))
    proposals.note_tip(proposal, new, change.author, "commit")
    proposal = proposals.get(proposal.id)
    notify.tell_approvers(proposal, f"New proposal #{proposal.id} from {change.author}: "
                                    f"{proposal.title}")
    return Outcome(proposal=proposal)


def _manage(files: dict[str, bytes | None], change: Change, direct) -> Outcome:
    """Rename, delete, restore: directly unless the rules gate the change (say, a public
    document deleted), then as a new proposal."""
    if not change.message.strip():
        raise EditError("Describe the change in the commit message.")
    git = repo()
    head = git.head()
    changes = {p: (git.read_file(head, p), d) for p, d in files.items()}
    decision = workflow.decide(changes, proposals.rules())
    if not decision.gated:
        return Outcome(commit=direct())
    return _new_proposal(files, change, head, decision)


def delete(kind: str, slug: str, *, change: Change) -> Outcome:
    path = path_of(kind, slug)
    if not repo().blob_at(repo().head(), path):
        raise EditError("This document is already deleted.")
    return _manage({path: None}, change,
                   lambda: editing.delete(kind, slug, change=change))


def rename(kind: str, slug: str, new_slug: str, *, change: Change,
           ) -> Outcome:
    old = path_of(kind, slug)
    new = path_of(kind, new_slug) if is_safe_slug(new_slug) else ""
    git = repo()
    data = git.read_file(git.head(), old)
    if not new or data is None or git.blob_at(git.head(), new):
        return Outcome(commit=editing.rename(kind, slug, new_slug, change=change))  # its error
    return _manage({old: None, new: data}, change,
                   lambda: editing.rename(kind, slug, new_slug, change=change))


def restore(kind: str, slug: str, rev: str, *, change: Change) -> Outcome:
    path = path_of(kind, slug)
    target = history.find(history.revisions(path), rev)
    data = (repo().read_blobs([target.entry.blob]).get(target.entry.blob)
            if target is not None and not target.deleted else None)
    if data is None:  # the direct path says what is wrong
        return Outcome(commit=editing.restore(kind, slug, rev, change=change))
    return _manage({path: data}, change,
                   lambda: editing.restore(kind, slug, rev, change=change))


def restore_branch(proposal: Proposal, username: str) -> None:
    """Put a deleted branch back at the last tip the portal kept."""
    git = repo()
    kept = branches.tip(git, proposal.archive_ref) or proposal.tip
    if branches.tip(git, proposal.ref):
        raise ProposalError("The branch exists; nothing to restore.")
    if not kept or not git.resolve(kept):
        raise ProposalError("No kept version of this proposal exists.")
    git.update_ref(kept, "", proposal.ref)
    proposals.record(proposal.id, "restored", username, tip=kept)
