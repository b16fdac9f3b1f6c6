"""Anonymous reading, signing in and signing out in a real browser."""

from tests.conftest import CANARY_BLOCK, CANARY_DOC, CANARY_TITLE, PASSWORD


def test_anonymous_read_login_logout(page, live_server):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + "/")
    assert CANARY_TITLE not in page.content()
    page.click("text=Refunds")
    page.wait_for_url(live_server.url + "/policies/refunds")
    assert "30 days" in page.locator("article").inner_text()
    assert CANARY_BLOCK not in page.content()
    missing = page.goto(live_server.url + "/policies/escalation")
    assert missing.status == 404 and CANARY_DOC not in page.content()

    # The sign-in link brings the agent back to the page they were reading.
    page.goto(live_server.url + "/policies/refunds")
    page.click("text=Staff sign in")
    page.fill("input[name=username]", "agent")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/policies/refunds")
    assert CANARY_BLOCK in page.locator(".agents-only").inner_text()
    page.goto(live_server.url + "/policies/escalation")
    assert page.locator("h1").inner_text() == CANARY_TITLE

    page.click("text=Sign out")
    page.wait_for_url(live_server.url + "/")
    assert "You are signed out" in page.locator(".flashes").inner_text()
    assert page.goto(live_server.url + "/policies/escalation").status == 404
    assert [e for e in errors if "404" not in e and "401" not in e] == []
