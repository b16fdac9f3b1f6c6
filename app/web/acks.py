"""To-read list, "I have read this", and the acknowledgement report (HTML and CSV)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.auth import can, current_viewer
from app.content.store import Document, document_at
from app.db import get_db
from app.lifecycle import acks, trends
from app.repo.gitrepo import is_valid_rev

bp = Blueprint("acks", __name__)


def _doc_or_404(section: str, slug: str) -> Document:
    doc = document_at(section, slug)
    if doc is None:
        abort(404)
    return doc


@bp.get("/to-read")
@login_required
def to_read():
    if not can(current_user, "acknowledge"):
        abort(403)
    return render_template("to_read.html", pending=acks.pending_for(get_db(), current_user.id))


@bp.post("/acknowledge/<section>/<path:slug>")
@login_required
def acknowledge(section: str, slug: str):
    if not can(current_user, "acknowledge"):
        abort(403)
    doc = _doc_or_404(section, slug)
    rev = request.form.get("rev", "")
    if not is_valid_rev(rev) or not acks.acknowledge(get_db(), user_id=current_user.id,
                                                     doc=doc, rev=rev):
        flash("This document changed again while you were reading. Please read the latest "
              "version and confirm again.")
        return redirect(doc.url)
    flash(f"Recorded: you have read “{doc.title}”.")
    if request.form.get("next") == "to-read":
        return redirect(url_for("acks.to_read"))
    return redirect(doc.url)


@bp.get("/acks/<section>/<path:slug>")
@login_required
def report(section: str, slug: str):
    if not can(current_user, "manage"):
        abort(403)
    rep = acks.report(get_db(), _doc_or_404(section, slug))
    if request.args.get("format") == "csv":
        filename = rep.doc.slug.replace("/", "-") + "-acknowledgements.csv"
        return Response(acks.report_csv(rep), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{filename}"'})
    return render_template("ack_report.html", rep=rep, section=section,
                           progress=trends.ack_progress(get_db(), rep))


def ack_notice(doc: Document) -> acks.Pending | None:
    """The "please confirm you read this change" banner; None unless this staff member owes it."""
    if not current_viewer().sees_internal or not can(current_user, "acknowledge"):
        return None
    owed = acks.owed(get_db(), current_user.id, current_user.session_token)
    if owed.files.get((doc.kind, doc.slug)) == doc.path:
        # The document's file at HEAD: the to-read list already says what it owes.
        found = owed.by_doc.get((doc.kind, doc.slug))
        return acks.Pending(doc, found.change, found.last_acked) if found else None
    change = acks.current_material(doc)  # any other file (an old path shown by ?rev=)
    if change is None:
        return None
    seen = get_db().execute("SELECT rev FROM acknowledgements WHERE user_id = ? AND kind = ? "
                            "AND slug = ? ORDER BY acked_at DESC", (current_user.id, doc.kind,
                                                                    doc.slug)).fetchall()
    revs = [r["rev"] for r in seen]
    if change.sha in revs:
        return None
    return acks.Pending(doc, change, revs[0] if revs else None)


def to_read_count() -> int:
    if not getattr(current_user, "is_authenticated", False) or not can(current_user,
                                                                        "acknowledge"):
        return 0
    return len(acks.owed(get_db(), current_user.id, current_user.session_token).pending)


def init_app(app) -> None:
    app.add_template_global(ack_notice, "ack_notice")
    app.add_template_global(to_read_count, "to_read_count")
