"""Editing in a real browser: live preview (CSP-clean script) and saving a new document."""

from __future__ import annotations


def test_editor_live_preview_and_save(page, live_server, login):
    login("editor")
    errors = []  # listening after the first page: the browser's own favicon probe is not ours
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + "/new")
    page.fill("input[name=slug]", "browser-made")
    page.fill("input[name=title]", "Made in a browser")
    # Internal: created at once (a new public document is a proposal: browser/test_proposals.py).
    page.select_option("select[name=audience]", "internal")
    page.fill("textarea[name=body]", "Hello **world**.\n\n::: internal\nStaff note.\n:::\n")
    preview = page.locator("#preview")
    preview.locator("strong").wait_for()
    assert preview.locator("strong").inner_text() == "world"
    assert "Agents only" in preview.locator(".admonition.agents-only").inner_text()
    page.check("input[name=material]")
    page.click("button:text('Save')")
    page.wait_for_url(live_server.url + "/policies/browser-made")
    assert page.locator("h1").inner_text() == "Made in a browser"
    page.click("text=History")
    page.wait_for_url(live_server.url + "/history/policies/browser-made")
    assert page.locator("table.history tbody tr").count() == 1
    assert errors == [], errors
