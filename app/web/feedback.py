""""Was this helpful?" on public pages: anonymous, CSRF-protected and rate-limited."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import StringField, TextAreaField
from wtforms.validators import AnyOf, Length

from app.accounts.security import limiter
from app.content.audience import PUBLIC, visible
from app.content.store import document_at
from app.db import get_db
from app.lifecycle import feedback
from app.web.errors import render_error

bp = Blueprint("feedback", __name__)


class FeedbackForm(FlaskForm):
    helpful = StringField("Was this helpful?", validators=[AnyOf(["yes", "no"])])
    comment = TextAreaField("Tell us more (optional)",
                            validators=[Length(max=feedback.MAX_COMMENT)])


def _limit() -> str:
    return current_app.config["KB_FEEDBACK_LIMIT"]


@bp.post("/feedback/<section>/<path:slug>")
@limiter.limit(_limit)
def give(section: str, slug: str):
    doc = document_at(section, slug)
    if doc is None or not visible(doc, viewer=PUBLIC):
        abort(404)  # feedback is for public pages; internal ones do not exist here
    form = FeedbackForm()
    if not form.validate_on_submit():
        flash("Choose Yes or No. Comments can be up to 500 characters.", "feedback")
        return redirect(doc.url + "#feedback")
    feedback.record(get_db(), kind=doc.kind, slug=doc.slug, helpful=form.helpful.data == "yes",
                    comment=form.comment.data or "")
    flash("Thank you for your feedback.", "feedback")
    return redirect(doc.url + "#feedback")


@bp.errorhandler(CSRFError)
def confirm(exc: CSRFError):
    """No token came with the vote (no JavaScript, or an expired one): ask once more, with one.

    Still CSRF-protected: nothing is stored until the visitor sends this page's form.
    """
    args = request.view_args or {}
    doc = document_at(args.get("section", ""), args.get("slug", ""))
    if doc is None or not visible(doc, viewer=PUBLIC):
        return render_error(404)  # (an error handler cannot abort)
    helpful = request.form.get("helpful") if request.form.get("helpful") in ("yes", "no") else ""
    comment = (request.form.get("comment") or "")[:feedback.MAX_COMMENT]
    return render_template("feedback_confirm.html", doc=doc, helpful=helpful,
                           comment=comment), 400
