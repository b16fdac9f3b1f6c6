"""Reading in a real browser: anonymous pages, sign-in, agents-only callouts."""

from tests.conftest import CANARY_BLOCK


def test_anonymous_reader_and_agent(page, live_server, login):
    page.goto(live_server.url + "/policies/refunds")
    assert page.locator("h1").inner_text() == "Refunds"
    assert CANARY_BLOCK not in page.content()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    login("agent")
    page.goto(live_server.url + "/policies/refunds")
    callout = page.locator(".admonition.agents-only")
    assert callout.is_visible()
    assert CANARY_BLOCK in callout.inner_text()
    page.click("text=View as customer")
    assert page.locator(".admonition.agents-only").count() == 0
    assert errors == [], errors  # no CSP violations or script errors

