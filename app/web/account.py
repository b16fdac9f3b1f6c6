"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.accounts import sessions
from app.accounts.auth import verify_password
from app.accounts.security import failed_sign_in, limiter, login_address_key, login_key
from app.db import get_db

bp = Blueprint("account", __name__)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


def safe_next(target: str | None) -> str:
    """Only same-site paths: ``//evil.example`` and ``https://evil.example`` go home, and so
    does a path with a control character (a newline cannot be sent in ``Location``)."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return url_for("public.home")
    parts = urlsplit(target.replace("\\", "/"))
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("public.home")
    return target


def _login_limit() -> str:
    return current_app.config["KB_LOGIN_LIMIT"]


def _login_address_limit() -> str:
    return current_app.config["KB_LOGIN_ADDRESS_LIMIT"]


SPRAY_MESSAGE = ("Too many failed sign-ins from your network. Wait a few minutes and try again; "
                 "if this keeps happening, ask an administrator.")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=login_key, methods=["POST"])
@limiter.limit(_login_address_limit, key_func=login_address_key, methods=["POST"],
               deduct_when=failed_sign_in, error_message=SPRAY_MESSAGE)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = verify_password(form.username.data.strip(), form.password.data)
        if user is not None:
            session.clear()  # a fresh session at sign-in: no fixation
            session[sessions.SESSION_KEY] = sessions.start(get_db(), user.id)
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
        error = "Wrong username or password."
    return render_template("login.html", form=form, error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    sessions.end(get_db(), session.get(sessions.SESSION_KEY))
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("public.home"))


@bp.get("/api/csrf-token")
def csrf_token():
    """A CSRF token for a form posted from a public page (feedback, the search-click beacon).

    Public pages carry none, so they set no cookie and can be cached; the visitor's script
    fetches one only when they actually post.  The answer starts a session (private).
    """
    return jsonify(token=generate_csrf())
