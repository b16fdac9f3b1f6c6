"""Search as you type in real Chromium: what is asked, what is shown, what is announced.

The answers are held back with ``page.route`` so the order of events is set by the test,
not by timing."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.browser.test_search import collect_errors

API = "**/api/search?*"
STALE = {"count": 1, "suggestion": None, "results": [{
    "title": "STALE ANSWER", "link": "/policies/stale", "url": "/policies/stale",
    "snippet": "an older query", "sections": []}]}
WATCH_STALE = """() => {
  window.__sawStale = false;
  new MutationObserver(() => {
    if (document.getElementById("search-suggestions").textContent.includes("STALE")) {
      window.__sawStale = true;
    }
  }).observe(document.getElementById("search-suggestions"), {childList: true, subtree: true});
}"""


def query_of(url: str) -> str:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)["q"][0]


def hold_first(page) -> tuple[list, list[str]]:
    """Hold the first API request (returned for the test to answer); let the rest through.
    Returns (held routes, every query asked)."""
    held, asked = [], []

    def handle(route):
        asked.append(query_of(route.request.url))
        if not held:
            held.append(route)
        else:
            route.continue_()

    page.route(API, handle)
    return held, asked


def wait_until(page, check, what: str) -> None:
    for _ in range(200):  # the route handlers run while the page is waited on
        if check():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never happened: {what}")


def test_an_older_answer_arriving_late_is_never_shown(page, live_server):
    errors = collect_errors(page)
    page.goto(live_server.url + "/")
    page.evaluate(WATCH_STALE)
    held, asked = hold_first(page)
    page.locator("#q").click()
    page.keyboard.type("l")
    wait_until(page, lambda: held, "the first keystroke asks")
    page.keyboard.type("ate claims")
    # The answer for "l" arrives after the rest was typed: it must not be shown.
    held[0].fulfill(status=200, content_type="application/json", body=json.dumps(STALE))
    options = page.locator("#search-suggestions [role=option]")
    expect(options.first).to_contain_text("Refunds")
    assert page.evaluate("window.__sawStale") is False
    # At most one request in flight: the ten keystrokes typed meanwhile became one request.
    assert asked == ["l", "late claims"], asked
    assert errors == [], errors


def test_the_count_is_announced_once_typing_pauses(page, live_server):
    page.goto(live_server.url + "/")
    page.evaluate("""() => {
      const status = document.getElementById("search-status");
      window.__announced = [];
      new MutationObserver(() => {
        if (status.textContent) { window.__announced.push(status.textContent); }
      }).observe(status, {childList: true, characterData: true, subtree: true});
    }""")
    asked: list[str] = []
    page.on("request", lambda req: asked.append(query_of(req.url))
            if "/api/search?" in req.url else None)
    page.locator("#q").click()
    # 250 ms a key: longer than the anonymous throttle, shorter than the announcement delay.
    page.keyboard.type("refund", delay=250)
    expect(page.locator("#search-suggestions [role=option]").first).to_contain_text("Refund")
    count = page.evaluate("""async () => (await (await fetch(
      "/api/search?limit=8&q=refund", {headers: {"Accept": "application/json"}})).json()).count""")
    status = page.locator("#search-status")
    expect(status).to_have_text(f"{count} result" + ("" if count == 1 else "s"))
    page.wait_for_timeout(300)
    # Several answers came while typing; the live region spoke once, for the last.
    assert len([q for q in asked if q != "refund"]) >= 2, asked
    assert page.evaluate("window.__announced") == [status.text_content()]
    page.keyboard.press("Escape")
    expect(status).to_have_text("")
