"""Anonymous forms in real Chromium: public pages set no cookie, and their forms still work.

Issue 12, item 4: the feedback form and the result-click beacon fetch their CSRF token only
when used (``/api/csrf-token``), so reading sets no cookie and pages can be cached.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import wait_for_row
from tests.browser.test_search import clicked, collect_errors


def _feedback(live_server, comment: str) -> tuple | None:
    return wait_for_row(live_server, "SELECT slug, helpful FROM feedback WHERE comment = ?",
                        (comment,))


def test_reading_sets_no_cookie_and_feedback_still_works(page, live_server):
    errors = collect_errors(page)
    for path in ("/", "/faq/", "/changes", "/policies/refunds"):
        page.goto(live_server.url + path)
    page.locator("#q").fill("refund")  # as-you-type search needs no token either
    expect(page.locator("#search-suggestions [role=option]").first).to_be_visible()
    assert page.context.cookies() == []
    page.check("#feedback input[name=helpful][value=no]")
    page.fill("#feedback-comment", "browser feedback with script")
    page.click("#feedback button[type=submit]")
    expect(page.locator(".feedback-note")).to_have_text("Thank you for your feedback.")
    assert _feedback(live_server, "browser feedback with script") == ("refunds", 0)
    assert errors == [], errors  # no CSP violations or script errors


def test_result_click_beacon_from_the_search_page(page, live_server):
    errors = collect_errors(page)
    page.goto(live_server.url + "/search?q=shipping+email")
    assert page.context.cookies() == []
    page.click(".search-results .result-title")
    page.wait_for_url(re.compile(r"/faq/track-order"))
    assert clicked(live_server, "/faq/track-order") == ("shipping email", "public")
    assert errors == [], errors


def test_feedback_without_javascript_asks_to_confirm(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/faq/track-order")
        page.check("#feedback input[name=helpful][value=yes]")
        page.fill("#feedback-comment", "browser feedback without script")
        page.click("#feedback button[type=submit]")
        expect(page.locator("h1")).to_have_text("Send your feedback?")
        assert _feedback(live_server, "browser feedback without script") is None
        expect(page.locator("#feedback-comment")).to_have_value("browser feedback without script")
        page.click("button[type=submit]:text('Send feedback')")
        expect(page.locator(".feedback-note")).to_have_text("Thank you for your feedback.")
        assert _feedback(live_server, "browser feedback without script") == ("track-order", 1)
    finally:
        context.close()
