"""Proposal pages (editors, approvers, admins only): the queue, one proposal with its diffs
and thread, the actions (comment, request changes, withdraw, approve, emergency publish,
resolve a conflict, restore a branch), notices, and the approvals audit with CSV."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field

from flask import Blueprint, Response, abort, flash, redirect, render_template, request
from flask_login import current_user

from app.accounts.auth import can
from app.content.audience import PUBLIC, STAFF, project
from app.content.store import parse, repo, store
from app.editing import proposals, propose, publish
from app.editing.proposals import ProposalError
from app.editing.save import Conflict, EditError
from app.history.diffing import diff
from app.lifecycle import dashboard as lifecycle
from app.repo.gitrepo import GitError

bp = Blueprint("proposals", __name__)
log = logging.getLogger(__name__)


def _guard() -> None:
    if not can(current_user, "edit"):
        abort(404)  # customers and agents: proposals do not exist


def _load(proposal_id: str) -> proposals.Proposal:
    _guard()
    if not proposal_id.isdigit() or len(proposal_id) > 9:
        abort(404)
    proposals.sync()
    return proposals.get(int(proposal_id)) or abort(404)


@dataclass
class FileChange:
    path: str
    url: str = ""
    rendered: object = None
    source: object = None
    public: object = None
    effective: tuple[str, str] = ("", "")
    audience: tuple[str, str] = ("", "")
    findings: list = field(default_factory=list)


def _doc(path: str, data: bytes | None):
    located = store().locate(path)
    if data is None or located is None:
        return None
    return parse(data, kind=located[0], slug=located[1], path=path)


def _shown(doc, viewer) -> str:
    shown = project(doc, viewer=viewer) if doc is not None else None
    return f"# {shown.title}\n\n{shown.body}" if shown else ""


def file_changes(changes: dict[str, tuple[bytes | None, bytes | None]]) -> list[FileChange]:
    out = []
    for path, (old, new) in sorted(changes.items()):
        before, after = _doc(path, old), _doc(path, new)
        item = FileChange(path, url=(after or before).url if (after or before) else "")
        item.source = diff((old or b"").decode(errors="replace"),
                           (new or b"").decode(errors="replace"), mode="source")
        if before is not None or after is not None:
            item.rendered = diff(_shown(before, STAFF), _shown(after, STAFF), mode="rendered")
            item.public = diff(_shown(before, PUBLIC), _shown(after, PUBLIC), mode="rendered")
            item.effective = tuple(str(d.meta.get("effective") or "") if d else ""
                                   for d in (before, after))
            item.audience = tuple(str(d.meta.get("audience") or "internal") if d else "absent"
                                  for d in (before, after))
        if after is not None:
            item.findings = lifecycle.clarity_findings(after.body, public=after.is_public)
        out.append(item)
    return out


@bp.get("/proposals")
def queue():
    _guard()
    problems = proposals.sync() + proposals.rules().problems
    shown = request.args.get("status", "active")
    statuses = proposals.STATUSES if shown == "all" else proposals.ACTIVE
    return render_template("proposals/queue.html", items=proposals.listing(statuses),
                           problems=problems, shown=shown,
                           notices=proposals.notices_for(current_user.username))


def _page(proposal: proposals.Proposal, *, status: int = 200, conflict: dict | None = None,
          errors=()):
    tip = publish.current_tip(proposal) if proposal.active else ""
    the_plan = decision = None
    trouble = list(errors)
    if proposal.active:
        try:
            the_plan = publish.plan(proposal)
            decision = publish.decision(proposal, the_plan)
        except ProposalError as exc:
            trouble.append(str(exc))
    changes = file_changes(the_plan.changes) if the_plan else []
    approve_block = (publish.may_approve(proposal, current_user, decision)
                     if decision is not None else "")
    return render_template(
        "proposals/show.html", p=proposal, tip=tip, plan=the_plan, decision=decision,
        changes=changes, trouble=trouble, approve_block=approve_block,
        approvals=proposal.approvals(tip) if tip else [], conflict=conflict,
        main=repo().head(), is_author=current_user.username.lower() == proposal.author.lower(),
        problems=proposals.rules().problems), status


@bp.get("/proposals/<proposal_id>")
def show(proposal_id: str):
    return _page(_load(proposal_id))


def _act(proposal_id: str, action, done: str):
    """Run ``action(proposal)``; trouble shows on the page with a clear message, never 500."""
    proposal = _load(proposal_id)
    try:
        action(proposal)
    except Conflict:
        flash("Main changed the same lines: resolve the merge below before publishing.")
        return redirect(f"/proposals/{proposal_id}/resolve", 303)
    except (ProposalError, EditError) as exc:
        message = "; ".join(exc.errors) if isinstance(exc, EditError) else str(exc)
        return _page(proposals.get(int(proposal_id)), status=409, errors=[message])
    except GitError:
        log.exception("proposal action failed")
        return _page(proposals.get(int(proposal_id)), status=503, errors=[
            "The content repository could not record this; nothing was changed. Try again."])
    flash(done)
    return redirect(f"/proposals/{proposal_id}", 303)


@bp.post("/proposals/<proposal_id>/comment")
def comment(proposal_id: str):
    return _act(proposal_id, lambda p: publish.comment(p, current_user.username,
                                                      request.form.get("comment", "")),
                "Comment added.")


@bp.post("/proposals/<proposal_id>/request-changes")
def request_changes(proposal_id: str):
    return _act(proposal_id, lambda p: publish.request_changes(
        p, current_user, request.form.get("comment", ""), request.form.get("tip", "")),
        "Changes requested; the author was told.")


@bp.post("/proposals/<proposal_id>/withdraw")
def withdraw(proposal_id: str):
    return _act(proposal_id, lambda p: publish.withdraw(p, current_user), "Withdrawn.")


@bp.post("/proposals/<proposal_id>/approve")
def approve(proposal_id: str):
    outcome = {}

    def run(p):
        outcome["merge"] = publish.approve(p, current_user, request.form.get("tip", ""))

    response = _act(proposal_id, run, "Approved.")
    if outcome.get("merge"):
        flash("Published onto the main branch.")
    return response


@bp.post("/proposals/<proposal_id>/emergency")
def emergency(proposal_id: str):
    if not can(current_user, "admin"):
        abort(403 if can(current_user, "edit") else 404)
    return _act(proposal_id, lambda p: publish.emergency(
        p, current_user, request.form.get("reason", ""), request.form.get("tip", "")),
        "Published as an emergency change; it is listed for review.")


@bp.post("/proposals/<proposal_id>/restore")
def restore(proposal_id: str):
    return _act(proposal_id, lambda p: propose.restore_branch(p, current_user.username),
                "Branch restored.")


@bp.route("/proposals/<proposal_id>/resolve", methods=["GET", "POST"])
def resolve(proposal_id: str):
    proposal = _load(proposal_id)
    try:
        the_plan = publish.plan(proposal, request.form.get("main") or None)
    except ProposalError as exc:
        return _page(proposal, status=409, errors=[str(exc)])
    if request.method == "POST":
        texts = {path: request.form.get(f"text:{path}", "") for path in the_plan.conflicts}
        try:
            publish.resolve(proposal, texts, seen_tip=request.form.get("tip", ""),
                            seen_main=the_plan.main, username=current_user.username)
        except (ProposalError, EditError) as exc:
            message = "; ".join(exc.errors) if isinstance(exc, EditError) else str(exc)
            return render_template("proposals/resolve.html", p=proposal, plan=the_plan,
                                   texts=texts, errors=[message]), 409
        flash("Merge recorded on the proposal; it needs approving again.")
        return redirect(f"/proposals/{proposal_id}", 303)
    texts = {path: c.merged for path, c in the_plan.conflicts.items()}
    return render_template("proposals/resolve.html", p=proposal, plan=the_plan, texts=texts,
                           errors=[]), (409 if the_plan.conflicts else 200)


@bp.post("/notices/<notice_id>/seen")
def seen(notice_id: str):
    _guard()
    if notice_id.isdigit() and len(notice_id) < 12:
        proposals.mark_seen(current_user.username, int(notice_id))
    return redirect("/proposals", 303)


AUDIT_COLUMNS = ("proposal", "title", "author", "status", "documents", "approved_by",
                 "published_at", "published_by", "commit", "emergency")


def audit_rows() -> list[dict]:
    rows = []
    for p in proposals.listing(proposals.STATUSES):
        full = proposals.get(p.id)
        approved = [e.username for e in full.events if e.kind == "approve" and e.tip == p.tip]
        rows.append({"proposal": p.id, "title": p.title, "author": p.author,
                     "status": p.status, "documents": " ".join(p.paths),
                     "approved_by": " ".join(dict.fromkeys(approved)),
                     "published_at": p.published_at, "published_by": p.published_by,
                     "commit": p.published_commit, "emergency": p.emergency})
    return rows


@bp.get("/manage/approvals")
def audit():
    if not can(current_user, "manage"):
        abort(404)
    proposals.sync()
    rows = audit_rows()
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=AUDIT_COLUMNS)
        writer.writeheader()
        for row in rows:  # a leading =, +, - or @ would run as a formula in a spreadsheet
            writer.writerow({k: ("'" + str(v) if str(v)[:1] in "=+-@" else v)
                             for k, v in row.items()})
        return Response(out.getvalue(), mimetype="text/csv", headers={
            "Content-Disposition": "attachment; filename=approvals.csv"})
    return render_template("proposals/audit.html", rows=rows,
                           emergencies=[r for r in rows if r["emergency"]])


def badge() -> int:
    """Open proposals the current user may approve (the header badge)."""
    if not can(current_user, "approve"):
        return 0
    try:
        return proposals.badge_count(current_user.username)
    except Exception:  # a badge must never break a page
        log.exception("proposal badge")
        return 0


def init_app(app) -> None:
    app.add_template_global(badge, "proposal_badge")
