"""Anonymous policy and FAQ pages, kept per worker as the bytes last sent.

A visitor without any cookie sees a document page that depends only on the document's file
at HEAD and its history (the version in force, the printed revision), the date (effective
dates), the address (the page names its own URL) and the code and settings of this process.
So the page ``public_cache`` marked public is kept, with its ETag, keyed by its address
(scheme, host, root and path; no query string), and served again without running the view
while it is still what the view would answer:

- the date is the one it was rendered on;
- HEAD is the head read *before* it was rendered, or a later one reached by moves
  (``headmoves``) that did not touch the file and did not change the layout;
- the response used no CSP nonce (a nonce is per response).

A 304 then costs a head check and a dictionary look-up instead of the whole page, and any
commit that touches the file (a save in any worker: HEAD is read on every request) or a new
day makes the next request render again.  The security headers, ``Cache-Control``,
``Vary``, ``Last-Modified`` and the conditional answer are added as for any response.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import Flask, current_app, g, request, session

from app.caching.lru import SizedLRU
from app.clock import today
from app.content.store import repo, store

ENDPOINTS = {"public.policy": "policy", "public.faq": "faq"}
MAX_BYTES = 16 << 20  # about a thousand pages of 16 KB per worker


@dataclasses.dataclass(frozen=True)
class _Page:
    head: str  # the body is what the view answers at this head (read before it ran)
    rel: str  # the document's file
    folders: tuple  # the layout (kind -> folder) the slug was resolved in
    day: dt.date
    body: bytes
    etag: str


def _pages() -> SizedLRU:
    return current_app.extensions["kb_pages"]


def _candidate() -> tuple | None:
    """This request's key when its answer may come from (or go to) the cache: the parts
    ``request.base_url`` is made of (building that string, an IRI, cost more than the
    look-up it keys)."""
    if (request.method not in ("GET", "HEAD") or request.endpoint not in ENDPOINTS
            or request.cookies or request.query_string or "Authorization" in request.headers):
        return None
    return request.scheme, request.host, request.root_path, request.path


def _unchanged_since(then: str, head: str, rel: str, folders: tuple) -> bool:
    """Whether a page rendered at commit ``then`` is still what its view answers at
    ``head``: the same commit, or later ones that did not touch its file and did not change
    the layout (kind -> folder) its slug was resolved in."""
    if then == head:
        return True
    move = repo().moves.between(then, head)
    return (move is not None and not move.touches(rel)
            and tuple(store().folders().items()) == folders)


def current_at(pages: SizedLRU, key: tuple, page, head: str) -> bool:
    """Whether a kept ``page`` (any dataclass with ``head``, ``rel`` and ``folders``) is
    still current at ``head`` (``_unchanged_since``); a page carried over a move is kept
    again at ``head``, so next time it is one compare.  Shared by the agents' kept pages
    (``app.web.staff_pages``)."""
    if not _unchanged_since(page.head, head, page.rel, page.folders):
        return False
    if page.head != head:
        pages.put(key, dataclasses.replace(page, head=head))
    return True


def _fresh(page: _Page, head: str, key: tuple) -> bool:
    return page.day == today() and current_at(_pages(), key, page, head)


def serve() -> object | None:
    """Before the view: the kept page when it is still current, else note what to keep."""
    key = _candidate()
    if key is None:
        return None
    head = repo().head()
    page = _pages().get(key)
    if page is not None and _fresh(page, head, key):
        g.kb_page = None  # served from here: nothing to keep
        response = current_app.response_class(page.body, mimetype="text/html")
        response.set_etag(page.etag)
        return response
    content = store()
    rel = content.rel_for(ENDPOINTS[request.endpoint], (request.view_args or {}).get("slug", ""))
    if rel:
        g.kb_page = (key, head, rel, tuple(content.folders().items()), today())
    return None


def keep(response) -> None:
    """Called by ``public_cache`` for a response it has just marked public (ETag set)."""
    noted = g.get("kb_page")
    if (not noted or request.method != "GET" or g.get("csp_nonce") or session.modified
            or response.direct_passthrough):
        return
    key, head, rel, folders, day = noted
    etag, weak = response.get_etag()
    if etag and not weak:
        _pages().put(key, _Page(head, rel, folders, day, response.get_data(), etag))


def init_app(app: Flask) -> None:
    # Pages by address, each with the head, file, layout and date it holds for.
    pages = SizedLRU(max_bytes=MAX_BYTES, size_of=lambda p: len(p.body) + 400)
    app.extensions["kb_pages"] = pages
    app.before_request(serve)
