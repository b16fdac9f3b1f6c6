"""The owners' dashboard (editors and admins) and the staff review banner."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from .. import analytics, lifecycle
from ..auth import can
from ..db import get_db
from ..feedback import recent_comments, summaries

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
    return render_template("manage.html", rows=rows, view=view, sort=sort, owner=owner,
                           counts=lifecycle.counts(), feedback=summaries(db),
                           comments=recent_comments(db, limit=15), today=lifecycle.today())


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
                           no_click=analytics.no_click_queries(db, **args))


def init_app(app) -> None:
    app.add_template_global(lifecycle.review_notice, "review_notice")
