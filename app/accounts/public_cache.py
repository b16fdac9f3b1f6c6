"""HTTP caching: public pages may be kept by browsers and proxies; nothing with a session is.

One URL serves customers and staff, so the decision is made per response, last of all: after
the session cookie is written (``save_session`` below runs after every ``after_request``
function), so a response that sets or receives a cookie can never be marked public.

- A request or response with any cookie: ``Cache-Control: private, no-store``.
- An anonymous ``GET``/``HEAD`` answered ``200`` that did not choose its own
  ``Cache-Control``: ``public, max-age=KB_PUBLIC_MAX_AGE``, a strong ``ETag`` (SHA-1 of the
  body), ``Last-Modified``, and ``304 Not Modified`` to a matching ``If-None-Match`` or
  ``If-Modified-Since``.
- Anything else (errors, redirects, posts, rate-limit answers): ``no-store``.

Every response varies on ``Cookie``: a cache keeps the anonymous copy apart from any other.
See docs/caching-and-limits.md.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from flask import Flask, current_app, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from app.accounts import page_cache
from app.clock import today

PRIVATE = "private, no-store"


class _Seen:
    """When this worker first saw the content head it serves (per app)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.head: str | None = None
        self.since = 0


def last_modified() -> dt.datetime:
    """A time no earlier than the last change of any public page.

    Pages change when the content head moves (seen by this worker no earlier than it
    happened), when the day changes (versions come into force) and when the code or settings
    change (a restart: the first head is seen after it).
    """
    seen = current_app.extensions.setdefault("kb_http_seen", _Seen())
    head, now = current_app.extensions["kb_repo"].head(), int(time.time())
    with seen.lock:
        if head != seen.head:
            # Whole seconds, and later than the time given for the previous head even when
            # the head moved within that second (else If-Modified-Since would match).
            seen.head, seen.since = head, max(now, seen.since + 1)
        since = seen.since
    midnight = int(dt.datetime.combine(today(), dt.time(), tzinfo=dt.UTC).timestamp())
    return dt.datetime.fromtimestamp(max(since, min(midnight, now)), dt.UTC)


def apply(response):
    if request.endpoint == "static":  # send_file's own validators and Cache-Control
        return response
    response.vary.add("Cookie")
    if request.cookies or response.headers.getlist("Set-Cookie"):
        response.headers["Cache-Control"] = PRIVATE
        return response
    if (request.method not in ("GET", "HEAD") or response.status_code != 200
            or "Cache-Control" in response.headers or response.is_streamed):
        response.headers.setdefault("Cache-Control", "no-store")
        return response
    response.cache_control.public = True
    response.cache_control.max_age = int(current_app.config["KB_PUBLIC_MAX_AGE"])
    response.add_etag()  # kept when the page cache set it: the SHA-1 of these same bytes
    response.last_modified = last_modified()
    page_cache.keep(response)  # before make_conditional, which may drop the body
    return response.make_conditional(request)


class CacheAwareSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, then the caching decision (which must see the cookie)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app) -> URLSafeTimedSerializer | None:
        """Flask's serializer, built once per set of keys instead of twice per request.

        Building one (every request opens and saves a session, even without a cookie)
        cost more than checking the signature; a rotated ``SECRET_KEY`` or fallback list
        is a new key, hence a new serializer."""
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            self._serializers = {keys: serializer}  # only the current keys are kept
        return serializer

    def save_session(self, app, session, response) -> None:
        super().save_session(app, session, response)
        apply(response)


def init_app(app: Flask) -> None:
    app.session_interface = CacheAwareSessions()
    page_cache.init_app(app)
