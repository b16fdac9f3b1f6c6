"""Error pages: friendly, generic, and free of any document title or traceback."""

from __future__ import annotations

import logging
import sqlite3
import time

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.accounts.security import limiter

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "Your account cannot do that."),
    404: ("Page not found", "There is no page at this address. Try the search or the home page."),
    405: ("Not allowed", "That action is not available here."),
    409: ("Changed meanwhile", "Someone else changed this at the same time."),
    413: ("Too large", "That upload is larger than the portal accepts."),
    429: ("Too many attempts", "Too many attempts. Wait a minute and try again."),
    500: ("Something went wrong", "The error has been logged. Please try again."),
    503: ("Busy", "The portal is busy. Please try again in a moment."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, detail: str | None = None, **extra):
    title, message = MESSAGES.get(status, MESSAGES[500])
    if _wants_json():
        return jsonify(error=title, message=detail or message, **extra), status
    return render_template("error.html", status=status, title=title,
                           message=detail or message), status


def too_many(exc: HTTPException):
    """A 429 that says which limit was reached and when to try again."""
    limit = getattr(exc, "limit", None)  # flask_limiter's RateLimitExceeded
    own = bool(getattr(limit, "error_message", None))  # then it is the exception's description
    detail = exc.description if own else "Too many attempts. Wait a minute and try again."
    current = limiter.current_limit
    # As Flask-Limiter's Retry-After header counts it (the window's end, whole seconds).
    wait = max(1, int(current.reset_at - time.time())) if current else 60
    return render_error(429, f"{detail} You can try again in {wait} seconds.", retry_after=wait)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(400, "The form expired or was sent from another site. "
                                 "Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 429:
            return too_many(exc)
        # The exception's own description may echo user input; show our fixed text instead.
        return render_error(exc.code or 500)

    @app.errorhandler(sqlite3.OperationalError)
    def database_busy(exc: sqlite3.OperationalError):
        # A lock held longer than the busy timeout (a stuck backup, a long migration):
        # a retryable answer, not an error page that suggests something is broken.
        if "locked" not in str(exc) and "busy" not in str(exc):
            return unexpected(exc)
        log.warning("database busy on %s: %s", request.path, exc)
        body, status = render_error(503)
        return body, status, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return render_error(500)
