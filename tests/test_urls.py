"""Template URLs are remembered, but never across application roots, hosts or blueprints."""

from __future__ import annotations

import pytest
from flask import url_for as flask_url_for


@pytest.mark.parametrize("endpoint, values", [
    ("static", {"filename": "css/site.css"}),
    ("public.policy", {"slug": "refunds"}),
    ("public.policy", {"slug": "refunds", "hl": "refund window", "_anchor": "sec-refund-window"}),
    ("search.page", {"q": "refund"}),
    ("public.policy", {"slug": "refunds", "_external": True}),
])
@pytest.mark.parametrize("script_root", ["", "/portal"])
def test_template_urls_match_flasks_under_any_root(app, endpoint, values, script_root):
    cached = app.jinja_env.globals["url_for"]
    for host in ("kb.example", "other.example"):
        with app.test_request_context("/", base_url=f"https://{host}{script_root}/"):
            # Twice: the second answer comes from memory and must be the same.
            assert cached(endpoint, **values) == flask_url_for(endpoint, **values)
            assert cached(endpoint, **values) == flask_url_for(endpoint, **values)


def test_pages_served_under_a_prefix_link_under_it(app):
    client = app.test_client()
    assert '"/static/' in client.get("/").data.decode()  # built at the root first
    page = client.get("/", environ_overrides={"SCRIPT_NAME": "/portal"}).data.decode()
    assert "/portal/static/" in page
    assert 'src="/static/' not in page and 'href="/static/' not in page


def test_unhashable_values_are_built_each_time(app):
    cached = app.jinja_env.globals["url_for"]
    with app.test_request_context("/"):
        assert cached("search.page", q=["a", "b"]) == flask_url_for("search.page", q=["a", "b"])
