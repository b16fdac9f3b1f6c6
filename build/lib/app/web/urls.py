"""URLs built by templates, remembered per worker.

A page builds a dozen URLs (static files, search endpoints, navigation) and mostly the same
ones on every page; building one through Werkzeug's URL map costs as much as reading a small
file, so the answers are kept.  A URL depends only on the endpoint, its values and the
application's root (a reverse proxy may mount it under a prefix), which form the key.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request

from app.caching.lru import SizedLRU


def init_app(app: Flask) -> None:
    build = app.url_for
    # URLs by (application root, endpoint, arguments): one per document link at most.
    built = SizedLRU(max_bytes=4 << 20, size_of=lambda url: 2 * len(url) + 200)

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
            url = built.put(key, build(endpoint, **values))
        return url

    app.jinja_env.globals["url_for"] = url_for
