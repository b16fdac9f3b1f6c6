"""Reviewing and publishing proposals: comment, request changes, withdraw, approve, publish.

Publishing is one merge commit onto the main branch (first parent: main; second: the
proposal's tip) with the trailers ``Approved-by: NAME`` (one per approver) and
``Proposal: ID`` -- or ``Emergency: REASON`` when an admin publishes without approval --
written by ``save.commit_files`` like every save (lock, journal, compare-and-swap).

Each file the proposal changed is merged three ways (base = where the proposal left main).
When main changed the same lines, nothing is written: the caller shows the merge, and
``resolve`` records the resolution on the proposal (a merge of main into it), which then
needs approving again and publishes cleanly.  Two approvers at once publish once: the
status moves to ``approved`` by compare-and-swap in SQLite, and the merge's check refuses a
tip main already contains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from app.content.store import repo
from app.editing import notify, proposals, workflow
from app.editing import save as editing
from app.editing.proposals import Proposal, ProposalError
from app.editing.save import Change, Conflict
from app.repo import branches


@dataclass
class Plan:
    """The merge of a proposal into main: files to write (relative to main) and conflicts."""

    base: str
    main: str
    tip: str
    files: dict[str, bytes | None] = field(default_factory=dict)
    onto_tip: dict[str, bytes | None] = field(default_factory=dict)  # main's side, for resolve
    conflicts: dict[str, Conflict] = field(default_factory=dict)
    changes: dict[str, tuple[bytes | None, bytes | None]] = field(default_factory=dict)


def current_tip(proposal: Proposal) -> str:
    return branches.tip(repo(), proposal.ref)


def plan(proposal: Proposal, main: str | None = None) -> Plan:
    """How the proposal's tip merges into ``main`` (default: the current head)."""
    git = repo()
    main = main or git.head()
    tip = current_tip(proposal)
    if not tip:
        raise ProposalError("The proposal's branch was deleted. The last version the portal "
                            "saw is kept; restore the branch on this page.")
    base = branches.merge_base(git, main, tip)
    if not base:
        raise ProposalError("The proposal's branch shares no history with the main branch.")
    result = Plan(base, main, tip)
    theirs = set(branches.changed_paths(git, base, tip))
    ours = set(branches.changed_paths(git, base, main))
    tmp = Path(current_app.config["KB_DATA_DIR"])
    for path in sorted(theirs | ours):
        b, m, t = (git.read_file(rev, path) for rev in (base, main, tip))
        if path not in theirs:
            result.onto_tip[path] = m
            continue
        result.changes[path] = (b, t)
        if path not in ours or m == t:
            if m != t:
                result.files[path] = t
            continue
        if t is None or m is None or b is None:
            result.conflicts[path] = Conflict(
                (b or b"").decode(errors="replace"), (m or b"").decode(errors="replace"),
                (t or b"").decode(errors="replace"), (t or m or b"").decode(errors="replace"),
                False, main)
            continue
        merged, clean = git.merge_file(t, b, m, tmp)
        if clean:
            result.files[path] = merged
            result.onto_tip[path] = merged
        else:
            result.conflicts[path] = Conflict(b.decode(errors="replace"),
                                              m.decode(errors="replace"),
                                              t.decode(errors="replace"),
                                              merged.decode(errors="replace"), False, main)
    return result


def decision(proposal: Proposal, the_plan: Plan | None = None) -> workflow.Decision:
    the_plan = the_plan or plan(proposal)
    return workflow.decide(the_plan.changes, proposals.rules())


def may_approve(proposal: Proposal, user, the_decision: workflow.Decision) -> str:
    """'' when ``user`` may approve, else why not."""
    role = getattr(user, "role", None)
    if role not in ("approver", "admin"):
        return "Only approvers and admins approve proposals."
    if user.username.lower() == proposal.author.lower():
        return "You wrote this proposal; someone else must approve it."
    if role != "admin" and not the_decision.may_approve(user.username):
        return ("workflow.yml names who approves these documents: "
                + ", ".join(the_decision.approvers or ()))
    return ""


def _require_active(proposal: Proposal) -> None:
    if proposal.status == "published":
        raise ProposalError(f"Proposal #{proposal.id} is already published; nothing to do.")
    if proposal.status == "withdrawn":
        raise ProposalError(f"Proposal #{proposal.id} was withdrawn.")


def comment(proposal: Proposal, username: str, text: str) -> None:
    text = text.strip()
    if not text:
        raise ProposalError("Write a comment first.")
    proposals.record(proposal.id, "comment", username, body=text[:10_000])
    if username.lower() != proposal.author.lower():
        notify.tell(proposal.author, proposal, f"{username} commented on proposal "
                                               f"#{proposal.id}.")


def request_changes(proposal: Proposal, user, text: str, seen_tip: str) -> None:
    _require_active(proposal)
    if user.username.lower() == proposal.author.lower():
        raise ProposalError("You wrote this proposal; update it instead.")
    if seen_tip != current_tip(proposal):
        raise ProposalError("The proposal changed since you opened it; look at the new "
                            "version first.")
    proposals.set_status(proposal.id, "changes_requested", expect=proposals.ACTIVE)
    proposals.record(proposal.id, "request_changes", user.username, body=text.strip()[:10_000],
                     tip=seen_tip)
    notify.tell(proposal.author, proposal, f"Your proposal #{proposal.id} needs changes "
                                           f"({user.username}).")


def withdraw(proposal: Proposal, user) -> None:
    _require_active(proposal)
    if user.username.lower() != proposal.author.lower() and user.role != "admin":
        raise ProposalError("Only the author or an admin may withdraw a proposal.")
    if not proposals.set_status(proposal.id, "withdrawn", expect=proposals.ACTIVE):
        raise ProposalError("The proposal is no longer open.")
    proposals.record(proposal.id, "withdraw", user.username)


def approve(proposal: Proposal, user, seen_tip: str) -> str:
    """Record an approval; publish when enough approvals count.  Returns the merge commit,
    or '' while more approvals are needed.  Raises ProposalError or Conflict."""
    _require_active(proposal)
    tip = current_tip(proposal)
    if not tip:
        raise ProposalError("The proposal's branch was deleted; nothing was approved.")
    if seen_tip != tip:
        raise ProposalError("The proposal changed since you opened it (a new version or a "
                            "rewritten branch); review it again. Nothing was approved.")
    the_plan = plan(proposal)
    the_decision = decision(proposal, the_plan)
    reason = may_approve(proposal, user, the_decision)
    if reason:
        raise ProposalError(reason)
    if user.username not in proposal.approvals(tip):
        proposals.record(proposal.id, "approve", user.username, tip=tip)
    proposal = proposals.get(proposal.id)
    names = proposal.approvals(tip)
    if len(names) < max(the_decision.approvals, 1):
        notify.tell_approvers(proposal, f"Proposal #{proposal.id} has {len(names)} of "
                                        f"{the_decision.approvals} approvals.")
        return ""
    if the_plan.conflicts:
        raise next(iter(the_plan.conflicts.values()))
    trailers = tuple(("Approved-by", name) for name in names)
    return publish(proposal, user.username, trailers, tip)


def emergency(proposal: Proposal, user, reason: str, seen_tip: str) -> str:
    """An admin publishes without approval; the reason is recorded as a trailer."""
    _require_active(proposal)
    if user.role != "admin":
        raise ProposalError("Only admins may publish in an emergency.")
    reason = " ".join(reason.split())
    if not reason:
        raise ProposalError("Give the reason for the emergency; it is recorded.")
    if seen_tip != current_tip(proposal):
        raise ProposalError("The proposal changed since you opened it; review it again.")
    the_plan = plan(proposal)
    if the_plan.conflicts:
        raise next(iter(the_plan.conflicts.values()))
    return publish(proposal, user.username, (("Emergency", reason),), seen_tip,
                   emergency_reason=reason)


def publish(proposal: Proposal, username: str, trailers: tuple[tuple[str, str], ...],
            tip: str, *, emergency_reason: str = "") -> str:
    """Merge ``tip`` into main once (the status CAS picks the one publisher)."""
    if not proposals.set_status(proposal.id, "approved", expect=("open", "changes_requested")):
        fresh = proposals.get(proposal.id, with_events=False)
        state = fresh.label.lower() if fresh else "gone"
        raise ProposalError(f"Proposal #{proposal.id} is already {state}; it is published "
                            "once.")
    git = repo()
    commits = branches.commits(git, branches.merge_base(git, git.head(), tip) or tip, tip)
    change = Change(
        message=f"Publish proposal #{proposal.id}: {proposal.title}", author=username,
        note=" ".join(c.public_note for c in commits if c.public_note),
        material=any(c.material for c in commits),
        trailers=(*trailers, ("Proposal", str(proposal.id))))
    files: dict[str, bytes | None] = {}

    def check(head: str) -> None:
        if git.is_ancestor(tip, head):
            raise ProposalError(f"Proposal #{proposal.id} is already on the main branch.")
        fresh = plan(proposal, head)
        if fresh.tip != tip:
            raise ProposalError("The proposal changed while publishing; review it again.")
        if fresh.conflicts:
            raise next(iter(fresh.conflicts.values()))
        files.clear()
        files.update(fresh.files)

    try:
        check(git.head())
        merge = editing.commit_files(files, change, check, extra_parents=(tip,))
    except BaseException:
        proposals.set_status(proposal.id, "open", expect=("approved",))
        raise
    proposals.set_status(proposal.id, "published", published_commit=merge,
                         published_at=proposals.now(), published_by=username,
                         emergency=emergency_reason)
    proposals.record(proposal.id, "emergency" if emergency_reason else "publish", username,
                     body=emergency_reason, tip=tip)
    branches.delete(git, proposal.ref, tip)  # kept under refs/portal/proposals/<id>
    notify.tell(proposal.author, proposal, f"Your proposal #{proposal.id} was published "
                                           f"({'emergency' if emergency_reason else 'approved'}"
                                           f" by {username}).")
    return merge


def resolve(proposal: Proposal, resolved: dict[str, str], *, seen_tip: str, seen_main: str,
            username: str) -> str:
    """Record the resolution of a conflict as a merge of main into the proposal."""
    _require_active(proposal)
    the_plan = plan(proposal, seen_main)
    if the_plan.tip != seen_tip or not repo().is_ancestor(seen_main, repo().head()):
        raise ProposalError("The proposal or the main branch changed since the merge was "
                            "shown; open it again.")
    missing = set(the_plan.conflicts) - set(resolved)
    if missing:
        raise ProposalError("Resolve every conflicting file: " + ", ".join(sorted(missing)))
    for path, text in resolved.items():
        if "<<<<<<<" in text or ">>>>>>>" in text:
            raise ProposalError(f"{path} still holds conflict markers; keep the right text "
                                "and remove them.")
    files = dict(the_plan.onto_tip)
    files.update({p: t.replace("\r\n", "\n").encode() for p, t in resolved.items()})
    change = Change(message=f"Merge the main branch into proposal #{proposal.id}",
                    author=username)
    new = editing.commit_on(proposal.ref, seen_tip, files, change,
                            extra_parents=(seen_main,))
    proposals.note_tip(proposal, new, username, "resolved")
    return new
