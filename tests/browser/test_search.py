"""Search from the keyboard in real Chromium: type, arrows, Enter, Esc, and `/`."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import wait_for_row
from tests.conftest import CANARY_BLOCK


def collect_errors(page) -> list[str]:
    errors: list[str] = []
    # Resource errors are checked by URL below (a browser asks for /favicon.ico by itself).
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and not msg.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda res: errors.append(f"{res.status} {res.url}")
            if res.status >= 400 and not res.url.endswith("/favicon.ico") else None)
    return errors


def test_keyboard_flow_lands_on_the_highlighted_section(page, live_server):
    errors = collect_errors(page)
    page.goto(live_server.url + "/")
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("late claims")
    options = page.locator("#search-suggestions [role=option]")
    expect(options.first).to_be_visible()
    expect(page.locator("#q")).to_have_attribute("aria-expanded", "true")
    expect(options.first).to_contain_text("Refunds")
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(page.locator("#q")).to_have_attribute("aria-activedescendant", "search-opt-0")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/policies/refunds\?hl=.*#sec-late-claims$"))
    target = page.locator("#sec-late-claims")
    expect(target).to_have_class(re.compile(r"\bsearch-target\b"))
    expect(page.locator(".content mark.search-hit").first).to_be_visible()
    marked = page.locator(".content mark.search-hit").all_inner_texts()
    assert {m.lower() for m in marked} >= {"claims", "late"}
    assert errors == [], errors  # no CSP violations or script errors
    assert clicked(live_server, "/policies/refunds#sec-late-claims") == ("late claims", "public")


def clicked(live_server, url: str) -> tuple[str, str] | None:
    """The logged (query, audience) of a click on ``url`` (the log is written asynchronously)."""
    return wait_for_row(live_server, "SELECT query, audience FROM search_queries "
                        "WHERE clicked_url = ?", (url,))


def test_escape_clears_and_stale_requests_do_not_win(page, live_server):
    errors = collect_errors(page)
    page.goto(live_server.url + "/policies/refunds")
    page.locator("#q").click()
    page.keyboard.type("track")
    expect(page.locator("#search-suggestions [role=option]").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#q")).to_have_value("")
    expect(page.locator("#search-suggestions")).to_be_hidden()
    expect(page.locator("#q")).to_have_attribute("aria-expanded", "false")
    page.keyboard.type("refnud")  # a typo still finds the page
    expect(page.locator("#search-suggestions [role=option]").first).to_contain_text("Refunds")
    assert errors == [], errors


def test_anonymous_suggestions_hold_no_internal_text(page, live_server):
    page.goto(live_server.url + "/")
    page.locator("#q").fill(CANARY_BLOCK)
    expect(page.locator("#search-suggestions .search-none")).to_be_visible()
    assert CANARY_BLOCK not in page.locator("#search-suggestions").inner_text()


def test_search_page_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        page.fill("#q", "shipping email")
        page.press("#q", "Enter")
        page.wait_for_url(re.compile(r"/search\?q=shipping\+email"))
        expect(page.locator(".search-results .result-title")).to_have_text(
            "How do I track my order?")
    finally:
        context.close()
