"""Editing pages for editors and admins: edit, new, rename, delete, restore, live preview."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from app.accounts.auth import can
from app.content.audience import callout_warnings, project_body
from app.content.render import render
from app.content.store import KINDS, is_safe_slug, parse, repo, store
from app.editing import form as editform
from app.editing import proposals, propose, publish
from app.editing import save as editing
from app.editing import workflow as gating
from app.editing.proposals import ProposalError
from app.lifecycle import dashboard as lifecycle
from app.repo import branches
from app.repo.gitrepo import GitError

bp = Blueprint("edit", __name__)
log = logging.getLogger(__name__)
KIND_OF = {folder: kind for kind, folder in KINDS.items()}


def _guard(kind: str | None = None) -> str:
    if not can(current_user, "edit"):
        abort(403 if current_user.is_authenticated else 404)
    if kind is not None and kind not in KIND_OF:
        abort(404)
    return KIND_OF.get(kind or "", "")


def _form(fields: dict, *, doc=None, status: int = 200, errors=(), conflict=None,
          gate: str = "", proposal=None):
    if not gate and doc is not None and (request.method == "POST" or proposal is not None):
        gate = _gate_for(doc.path, fields, doc)
    return render_template("edit/form.html", f=fields, doc=doc, errors=errors,
                           warnings=callout_warnings(fields.get("body") or ""),
                           conflict=conflict, kinds=KINDS, gate=gate or gating.NEW,
                           proposal=proposal), status


def _gate_for(path: str, fields: dict, doc) -> str:
    text = editing.compose_form(fields, fields.get("body", ""), editform.extra_meta(doc))
    return gating.message(*propose.decide_save(path, text, current_user.username))


def _submit(kind: str, slug: str, fields: dict, doc, op):
    """Run a save; on trouble show the form again with the user's text and the reason.
    A change the rules gate becomes a proposal: the editor lands on its page."""
    text = editing.compose_form(fields, fields["body"], editform.extra_meta(doc))
    try:
        outcome = _emergency(op(text, editform.change(fields, current_user.username)))
    except editing.Conflict as conflict:
        return _form(editform.after_conflict(fields, conflict), doc=doc, status=409,
                     conflict=conflict)
    except editing.Busy as exc:
        return _form(fields, doc=doc, status=503, errors=exc.errors)
    except GitError:
        log.exception("save failed")
        return _form(fields, doc=doc, status=503, errors=[
            "The content repository could not record the change; nothing was saved. "
            "Try again, and tell an administrator if it keeps happening."])
    except editing.EditError as exc:
        return _form(fields, doc=doc, status=400, errors=exc.errors)
    except ProposalError as exc:  # an emergency publish refused: the proposal is kept
        flash(f"Saved as a proposal, not published: {exc}")
        return redirect("/proposals", 303)
    if outcome.proposal is not None:
        flash(f"Saved as proposal #{outcome.proposal.id}: it publishes once approved.")
        return redirect(outcome.proposal.url, 303)
    flash("Saved.")
    for warning in callout_warnings(fields["body"]):
        flash(warning)
    return redirect(f"/{KINDS[kind]}/{slug}")


@bp.route("/edit/<kind>/<path:slug>", methods=["GET", "POST"])
def edit(kind: str, slug: str):
    kind = _guard(kind)
    doc = store().get(kind, slug) or abort(404)
    if request.method == "GET":
        # The author's open proposal for this document is what they go on editing.
        proposal = proposals.open_for(current_user.username, doc.path)
        tip = branches.tip(repo(), proposal.ref) if proposal else ""
        data = repo().read_file(tip, doc.path) if tip else None
        shown = parse(data, kind=kind, slug=slug, path=doc.path) if data else doc
        fields = editform.from_doc(shown, tip or repo().head())
        return _form(fields, doc=doc, proposal=proposal if tip else None)
    fields = editform.from_request(request.form)
    return _submit(kind, slug, fields, doc, lambda text, change: propose.save_or_propose(
        kind, slug, text, base_rev=fields["base_rev"], change=change))


@bp.route("/new", methods=["GET", "POST"])
def new():
    _guard()
    if request.method == "GET":  # ?title= prefills, e.g. from a search nobody could answer
        fields = editform.blank(repo().head())
        fields["title"] = " ".join(request.args.get("title", "").split())[:200]
        if request.args.get("kind") in KINDS:
            fields["kind"] = request.args["kind"]
        return _form(fields)
    fields = editform.from_request(request.form)
    kind, slug = fields["kind"] if fields["kind"] in KINDS else "policy", fields["slug"].strip()
    return _submit(kind, slug, fields, None, lambda text, change: propose.save_or_propose(
        kind, slug, text, base_rev=fields["base_rev"], change=change, creating=True))


def _emergency(outcome):
    """An admin's reason to publish a gated change at once: the proposal just made is
    published with an ``Emergency:`` trailer and listed for review."""
    reason = request.form.get("emergency", "").strip() if can(current_user, "admin") else ""
    if reason and outcome.proposal is not None:
        publish.emergency(outcome.proposal, current_user, reason,
                          publish.current_tip(outcome.proposal))
        flash("Published as an emergency change; it is listed for review.")
    return outcome


@bp.post("/edit/gate")
def gate():
    """What saving the form as it stands would do: publish now, or make a proposal."""
    _guard()
    fields = editform.from_request(request.form)
    kind = request.args.get("kind") or fields["kind"]
    kind = kind if kind in KINDS else "policy"
    slug = (request.args.get("slug") or fields["slug"]).strip()
    doc = store().get(kind, slug) if is_safe_slug(slug) else None
    try:
        path = propose.path_of(kind, slug)
    except editing.EditError:
        return jsonify(message=gating.NEW, gated=None)
    text = editing.compose_form(fields, fields["body"], editform.extra_meta(doc))
    decision, existing = propose.decide_save(path, text, current_user.username)
    return jsonify(message=gating.message(decision, existing),
                   gated=bool(decision.gated or existing))


def _manage(kind: str, slug: str, op, done: str, *, target: str | None = None):
    """Rename/delete/restore: run ``op``, then show the document's history with the outcome."""
    kind = _guard(kind)
    change = editform.change(editform.from_request(request.form), current_user.username)
    try:
        outcome = _emergency(op(kind, change))
    except (editing.EditError, ProposalError) as exc:
        flash("Not done: " + (" ".join(exc.errors) if isinstance(exc, editing.EditError)
                              else str(exc)))
        target = None
    except GitError:
        log.exception("%s failed", request.path)
        flash("Not done: the content repository could not record the change.")
        target = None
    else:
        if outcome.proposal is not None:  # the rules gate it: it waits for approval
            flash(f"Proposed as #{outcome.proposal.id}: it happens once approved.")
            return redirect(outcome.proposal.url, 303)
        flash(done)
    return redirect(url_for("history.revisions", kind=KINDS[kind], slug=target or slug), 303)


@bp.post("/rename/<kind>/<path:slug>")
def rename(kind: str, slug: str):
    new_slug = request.form.get("new_slug", "").strip()
    return _manage(kind, slug, lambda k, c: propose.rename(
        k, slug, new_slug, change=c),
                   f"Renamed to {new_slug}.", target=new_slug)


@bp.post("/delete/<kind>/<path:slug>")
def delete(kind: str, slug: str):
    return _manage(kind, slug, lambda k, c: propose.delete(
        k, slug, change=c),
                   "Deleted. It stays in the history and can be restored.")


@bp.post("/restore/<kind>/<path:slug>")
def restore(kind: str, slug: str):
    rev = request.form.get("rev", "")
    return _manage(kind, slug, lambda k, c: propose.restore(
        k, slug, rev, change=c),
                   "Restored as a new version.")


@bp.post("/preview")
def preview():
    _guard()
    body = request.form.get("body", "")[:1_000_000]
    # Same pipeline as the page; internal blocks show as the marked "Agents only" callout.
    html = render(project_body(body, sees_internal=True)).html
    public = request.form.get("audience") == "public"
    findings = lifecycle.clarity_findings(body, public=public)
    return jsonify(html=html, findings=[
        {"rule": f.rule, "message": f.message, "hint": f.hint, "excerpt": f.excerpt}
        for f in findings] + [
        {"rule": "agents-only", "message": warning, "hint": "Use ::: internal and :::.",
         "excerpt": ""} for warning in callout_warnings(body)])
