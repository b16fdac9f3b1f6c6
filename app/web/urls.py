"""URLs built by templates, remembered per worker.

A page builds a dozen URLs (static files, search endpoints, navigation) and mostly the same
ones on every page; building one through Werkzeug's URL map costs as much as reading a small
file, so the answers are kept.  A URL depends only on the endpoint, its values and the
application's root (a reverse proxy may mount it under a prefix), which form the key.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request

MAX_URLS = 20_000  # one per document link at most; emptied when full


def init_app(app: Flask) -> None:
    build = app.url_for
    built: dict[tuple, str] = {}

    def url_for(endpoint: str, **values) -> str:
        # Relative endpoints depend on the current blueprint and external URLs on the host:
        # those are built every time, as is anything outside a request.
        if endpoint.startswith(".") or values.get("_external") or not has_request_context():
            return build(endpoint, **values)
        try:
            key = (request.script_root, endpoint, frozenset(values.items()))
        except TypeError:  # an unhashable value (a list of query values)
            return build(endpoint, **values)
        url = built.get(key)
        if url is None:
            url = build(endpoint, **values)
            if len(built) >= MAX_URLS:
                built.clear()
            built[key] = url
        return url

    app.jinja_env.globals["url_for"] = url_for
