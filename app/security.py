"""Cross-cutting protections: CSRF on every POST, rate limits, and security headers."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

# All scripts and styles are static files, so the policy needs no 'unsafe-inline'.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def login_key() -> str:
    """Throttle per username *and* address: one attacker cannot lock out a whole team."""
    username = (request.form.get("username") or "").strip().lower()[:64]
    return f"login:{get_remote_address()}:{username}"


def _headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    # One URL serves customers and staff: caches must key on the cookie, and never keep a
    # response to a request that carried one (it may hold internal text).
    response.vary.add("Cookie")
    if request.cookies or response.headers.get("Set-Cookie"):
        headers.setdefault("Cache-Control", "private, no-store")
    if _secure():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _secure() -> bool:
    from flask import current_app

    return bool(current_app.config.get("KB_SECURE_COOKIES"))


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["KB_RATELIMIT_STORAGE"])
    app.config.setdefault("RATELIMIT_ENABLED", app.config.get("RATELIMIT_ENABLED", True))
    limiter.init_app(app)
    app.after_request(_headers)
