"""The owners' dashboard (editors and admins) and the staff review banner."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.auth import can
from app.clock import today
from app.content.store import document_at
from app.db import get_db
from app.editing.save import EditError
from app.lifecycle import analytics, trends
from app.lifecycle import dashboard as lifecycle
from app.lifecycle.feedback import recent_comments, summaries
from app.repo.gitrepo import GitError

bp = Blueprint("manage", __name__)
VIEWS = ("overdue", "due", "mine", "recent", "all")
SORTS = ("due", "title", "owner", "changed", "clarity")


@bp.get("/manage")
@login_required
def dashboard():
    if not can(current_user, "manage"):
        abort(403)
    view = request.args.get("view", "overdue")
    view = view if view in VIEWS else "overdue"
    sort = request.args.get("sort", "due")
    sort = sort if sort in SORTS else "due"
    owner = request.args.get("owner", "")[:100] or current_user.username
    rows = lifecycle.dashboard_rows(view=view, owner=owner, sort=sort)
    db = get_db()
    charts = [trends.reviews_due(), trends.ack_completion(db), trends.helpful_rate(db)]
    return render_template("manage.html", rows=rows, view=view, sort=sort, owner=owner,
                           counts=lifecycle.counts(), feedback=summaries(db),
                           comments=recent_comments(db, limit=15), today=today(),
                           charts=charts)


@bp.get("/manage/search")
@login_required
def search_analytics():
    if not can(current_user, "manage"):
        abort(403)
    days = request.args.get("days", 30, type=int)
    days = days if days in analytics.PERIODS else 30
    audience = request.args.get("audience", "")
    audience = audience if audience in analytics.AUDIENCES else None
    db = get_db()
    args = {"days": days, "audience": audience}
    return render_template("search_analytics.html", days=days, audience=audience,
                           totals=analytics.totals(db, days=days),
                           top=analytics.top_queries(db, **args),
                           zero=analytics.zero_result_queries(db, **args),
                           no_click=analytics.no_click_queries(db, **args),
                           can_edit=can(current_user, "edit"),
                           charts=[trends.search_volume(db), trends.zero_result_share(db),
                                   trends.failing_queries(db)])


@bp.get("/manage/charts/<name>.csv")
@login_required
def chart_csv(name: str):
    """The numbers of one owners' chart, as CSV (the same ones its table shows)."""
    if not can(current_user, "manage"):
        abort(403)
    build = trends.CHARTS.get(name) or abort(404)
    return Response(build(get_db()).csv(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})


@bp.post("/manage/reviewed/<section>/<path:slug>")
@login_required
def reviewed(section: str, slug: str):
    if not can(current_user, "edit"):
        abort(403)
    doc = document_at(section, slug) or abort(404)
    try:
        day = lifecycle.mark_reviewed(doc, username=current_user.username)
    except (EditError, GitError) as exc:
        flash(f"Not recorded: {_reason(exc)}")
    else:
        flash(f"Review of “{doc.title}” recorded; next review by {day.isoformat()}.")
    return redirect(url_for("manage.dashboard", view=request.form.get("view") or None), 303)


@bp.post("/manage/synonyms")
@login_required
def add_synonym():
    if not can(current_user, "edit"):
        abort(403)
    term = request.form.get("term", "")[:100]
    target = request.form.get("synonym_of", "")[:100]
    try:
        lifecycle.add_synonym(term, target, username=current_user.username)
    except (ValueError, EditError, GitError) as exc:
        flash(f"Not added: {_reason(exc)}")
    else:
        flash(f"Searches for “{term}” now also find “{target}”.")
    return redirect(url_for("manage.search_analytics"), 303)


def _reason(exc: Exception) -> str:
    if isinstance(exc, EditError):
        return " ".join(exc.errors)
    if isinstance(exc, GitError):
        return "the content repository could not record the change."
    return str(exc)


def init_app(app) -> None:
    app.add_template_global(lifecycle.review_notice, "review_notice")
