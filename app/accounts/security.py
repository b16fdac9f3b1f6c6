"""Cross-cutting protections: CSRF on every POST, rate limits, and security headers."""

from __future__ import annotations

import functools
import secrets
import time
from pathlib import Path

from flask import Flask, current_app, g, request, session
from flask.globals import request_ctx
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect, generate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix

from app.accounts import (
    public_cache,
    ratelimit_store,  # noqa: F401  (registers the sqlite:// limiter storage
)
from app.accounts.auth import can
from app.caching.lru import SizedLRU
from app.config import ConfigError

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

# All scripts and styles are static files, so the policy needs no 'unsafe-inline'.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


CSRF_REUSE_SECONDS = 60  # a page's CSRF token may be one signed this long ago
_signed_tokens = SizedLRU(max_bytes=1 << 20, size_of=lambda v: 200)


def csrf_token() -> str:
    """This session's CSRF token for a page, as ``generate_csrf`` gives (the template's
    ``csrf_token()``), signed at most ``CSRF_REUSE_SECONDS`` ago.

    Every staff page carries one (sign-out, search, "I have read this") and signing it
    (a fresh serializer, a key derivation and an HMAC) cost more than the rest of a kept
    page.  A token is the session's secret value signed with a timestamp: one signed a
    minute ago names the same session and key and is accepted the same way, for
    ``WTF_CSRF_TIME_LIMIT`` from its signing instead of from this page.  Kept by (key,
    session value), so a new key or session gets its own token.
    """
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    if field in g:
        return g.get(field)
    secret = current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT", 3600)
    reuse = CSRF_REUSE_SECONDS if limit is None else min(CSRF_REUSE_SECONDS, limit / 100)
    now, raw = time.time(), session.get(field)
    kept = _signed_tokens.get((secret, field, raw)) if isinstance(raw, str) else None
    if kept is not None and 0 <= now - kept[0] < reuse:
        setattr(g, field, kept[1])  # forms of this request use the same, as they would
        return kept[1]
    token = generate_csrf()  # makes the session's value first when it has none, as before
    raw = session.get(field)
    if isinstance(raw, str) and secret:
        _signed_tokens.put((secret, field, raw), (now, token))
    return token


def csp_nonce() -> str:
    """A fresh nonce for this response's ``style-src``: only pages that ask for one (the
    editor: CodeMirror adds its own <style> element, tagged with it) get it in their policy;
    every other page keeps the plain policy above.  Scripts never get a nonce."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _policy() -> str:
    nonce = g.get("csp_nonce")
    if not nonce:
        return CSP
    return CSP.replace("style-src 'self';", f"style-src 'self' 'nonce-{nonce}';")


def login_key() -> str:
    """Throttle per username *and* address: one attacker cannot lock out a whole team."""
    username = (request.form.get("username") or "").strip().lower()[:64]
    return f"login:{get_remote_address()}:{username}"


def login_address_key() -> str:
    """Throttle per address alone: one address cannot try a password on every username."""
    return f"login-address:{get_remote_address()}"


def failed_sign_in(response) -> bool:
    """Only failed sign-ins count against the address: a contact centre behind one NAT
    address signs in dozens of agents at the start of a shift."""
    return response.status_code in (400, 401)


def _search_limit() -> str:
    return current_app.config["KB_SEARCH_LIMIT"]


def _signed_in_staff() -> bool:
    return can(current_user, "read_internal")


def _search_message() -> str:
    return (f"Too many searches from your address: at most {_search_limit()}. Please wait "
            "before searching again. Signed-in staff are not limited.")


# One counter per address for the search page, the JSON API and the click beacon together;
# every GET of /search also writes an analytics row, so this bounds the table's growth too.
search_limit = limiter.shared_limit(_search_limit, scope="search", exempt_when=_signed_in_staff,
                                    error_message=_search_message)


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # Cache-Control, Vary and validators: public_cache, once the session cookie is written.
    if _secure():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _secure() -> bool:
    return bool(current_app.config.get("KB_SECURE_COOKIES"))


def limiter_storage_uri(app: Flask) -> str:
    """``KB_RATELIMIT_STORAGE``; the bare ``sqlite://`` means a file in the data dir."""
    uri = str(app.config["KB_RATELIMIT_STORAGE"]).strip()
    if uri in ("sqlite://", "sqlite:///"):
        uri = "sqlite://" + str(Path(app.config["KB_DATA_DIR"]) / "ratelimit.sqlite3")
    return uri


def proxy_count(app: Flask) -> int:
    """How many reverse proxies to trust for X-Forwarded-* (0: none, the default)."""
    raw = str(app.config.get("KB_PROXY_FIX") or "0").strip().lower()
    if raw in ("true", "yes", "on"):
        return 1
    if raw in ("false", "no", "off"):
        return 0
    if not raw.isdigit() or int(raw) > 5:
        raise ConfigError(f"KB_PROXY_FIX must be the number of proxies (0-5), not {raw!r}")
    return int(raw)


def _only_declared_limits(app: Flask) -> None:
    """Drop Flask-Limiter's check before every request when nothing needs it.

    Limits declared on a view (``@limiter.limit``, ``search_limit``) are checked by the
    decorator's own wrapper, inside the view.  The before-request hook only adds default,
    application, meta and blueprint limits; the portal declares none, and the hook cost
    more than a whole ``/healthz`` answer on every page view.  If any such limit is
    configured (``RATELIMIT_DEFAULT``, ``RATELIMIT_APPLICATION``, ...), the hook stays.
    """
    manager = limiter.limit_manager
    if (manager.default_limits or manager.application_limits or limiter._meta_limits
            or manager._blueprint_limits):
        return
    hooks = app.before_request_funcs.get(None, [])
    hooks[:] = [fn for fn in hooks if getattr(fn, "__func__", None)
                is not Limiter._check_request_limit]


def _limiter_hooks_when_used(app: Flask) -> None:
    """Flask-Limiter's after-request and teardown hooks, only in requests that looked at a
    limit.

    The extension keeps its per-request state (limits seen, deductions due when the response
    is known, the limit to report in headers) on the request context, created on first use.
    A request that never used it (every page view: limits are declared on a few views) has
    nothing to deduct or report, yet the hooks built that state only to read and clear it.
    """
    def used() -> bool:
        return hasattr(request_ctx._get_current_object(), "_limiter_request_context")

    def wrap(hook):
        def when_used(arg):
            return hook(arg) if used() else arg
        return when_used

    after = app.after_request_funcs.get(None, [])
    after[:] = [wrap(fn) if isinstance(fn, functools.partial)
                and fn.args == (limiter,) else fn for fn in after]
    teardown = app.teardown_request_funcs.get(None, [])
    teardown[:] = [wrap(fn) if getattr(fn, "__self__", None) is limiter else fn
                   for fn in teardown]


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    proxies = proxy_count(app)
    if proxies:
        # Behind nginx the client address, scheme and host arrive in X-Forwarded-* headers;
        # trusting exactly ``proxies`` hops keeps a client from forging its own address
        # (which would otherwise let it dodge the per-address login limit).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_prefix=proxies)
    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app))
    app.config.setdefault("RATELIMIT_ENABLED", app.config.get("RATELIMIT_ENABLED", True))
    limiter.init_app(app)
    _only_declared_limits(app)
    _limiter_hooks_when_used(app)
    app.after_request(_headers)
    public_cache.init_app(app)
    app.add_template_global(csp_nonce, "csp_nonce")
    # After CSRFProtect's own global and context processor (the later one wins).
    app.add_template_global(csrf_token, "csrf_token")
    app.context_processor(lambda: {"csrf_token": csrf_token})
