"""Agents' policy and FAQ pages, kept per worker and served again without the view.

A signed-in agent's document page depends on: the agent (id, name, role, and the account's
session token, which a password change replaces), the document's file and its history at
HEAD, the layout (kind -> folder), the date, the address and query (``?rev=``, ``?as=``),
the agent's to-read count and acknowledgement rows, and this process's code and settings.
Editors and above are not kept: their header shows the proposals queue, which lives in the
database.  So the page is kept, keyed by all of that but HEAD, with the head it was rendered
at, and served while it is still what the view would answer:

- HEAD is that head, or a later one reached by moves (``headmoves``) that did not touch the
  file and did not change the layout (as ``page_cache`` does for anonymous pages);
- the session holds no flashed message (the page would show it, once);
- the response used no CSP nonce.

The page carries the session's CSRF token (sign-out, search, "I have read this"): it is
kept with a placeholder in its place, and each answer gets this request's own token.  An
acknowledgement adds a row (the key changes), a save moves HEAD over the file (the page is
rendered again), a new day is a new key.  Security headers and ``Cache-Control: private,
no-store`` are added as for any response with a cookie.
"""

from __future__ import annotations

import dataclasses

from flask import Flask, current_app, g, request, session
from flask_login import current_user

from app.accounts.page_cache import current_at
from app.accounts.security import csrf_token
from app.caching.lru import SizedLRU
from app.clock import today
from app.content.store import repo, store
from app.db import get_db
from app.lifecycle import acks

ENDPOINTS = {"public.policy": "policy", "public.faq": "faq"}
MAX_BYTES = 16 << 20  # about a thousand pages of 16 KB per worker
PLACEHOLDER = "\x00kb-csrf-token\x00"  # a NUL never appears in a rendered page


@dataclasses.dataclass(frozen=True)
class _Page:
    head: str  # the body is what the view answered at this head (read before it ran)
    rel: str
    folders: tuple
    body: str  # with PLACEHOLDER where the CSRF token was


def _pages() -> SizedLRU:
    return current_app.extensions["kb_staff_pages"]


def _key() -> tuple | None:
    """This request's key when its answer may come from (or go to) the cache."""
    if (request.method != "GET" or request.endpoint not in ENDPOINTS
            or "_flashes" in session or "Authorization" in request.headers):
        return None
    user = current_user._get_current_object()
    if not getattr(user, "is_authenticated", False) or getattr(user, "role", None) != "agent":
        return None
    owed = acks.owed(get_db(), user.id, user.session_token)
    return (str(current_app.config["DATABASE"]), user.id, user.session_token, user.username,
            user.role, today(), owed.acks, len(owed.pending), request.scheme, request.host,
            request.script_root, request.path, request.query_string)


def serve() -> object | None:
    """Before the view: the kept page when it is still current, else note what to keep."""
    key = _key()
    if key is None:
        return None
    head = repo().head()
    page = _pages().get(key)
    if page is not None and current_at(_pages(), key, page, head):
        g.kb_staff_page = None
        body = page.body.replace(PLACEHOLDER, csrf_token())  # this session's token
        return current_app.response_class(body, mimetype="text/html")
    rel = store().rel_for(ENDPOINTS[request.endpoint], (request.view_args or {}).get("slug", ""))
    if rel:
        g.kb_staff_page = (key, head, rel, tuple(store().folders().items()))
    return None


def keep(response):
    """After the view: keep a plain 200 page rendered at the head noted before it ran."""
    noted = g.pop("kb_staff_page", None) if "kb_staff_page" in g else None
    if not noted:
        return response
    token = g.get("csrf_token")
    if (response.status_code != 200 or response.direct_passthrough
            or response.mimetype != "text/html" or g.get("csp_nonce") or not token
            or "_flashes" in session):
        return response
    key, head, rel, folders = noted
    if repo().head() == head:
        body = response.get_data(as_text=True)
        _pages().put(key, _Page(head, rel, folders, body.replace(token, PLACEHOLDER)))
    return response


def init_app(app: Flask) -> None:
    app.extensions["kb_staff_pages"] = SizedLRU(max_bytes=MAX_BYTES,
                                                size_of=lambda p: 2 * len(p.body) + 400)
    app.before_request(serve)
    app.after_request(keep)
