"""The CodeMirror editor in real Chromium under the strict CSP: highlighting, toolbar and
shortcuts, the agents-only block, preview scroll, the local draft, the leave warning."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.test_search import collect_errors
from tests.conftest import PASSWORD

EDIT = "/edit/policies/refunds"


@pytest.fixture
def editor(page, live_server, login):
    login("editor")
    page.goto(live_server.url + "/")  # the draft store belongs to this origin
    page.evaluate("localStorage.clear()")
    return page


def csp_violations(page) -> None:
    page.evaluate("""() => { window.__csp = [];
        document.addEventListener('securitypolicyviolation',
            e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }""")


def content(page):
    return page.locator(".cm-content")


def test_codemirror_runs_under_the_strict_csp(editor, live_server):
    errors = collect_errors(editor)
    response = editor.goto(live_server.url + EDIT)
    csp = response.headers["content-security-policy"]
    nonce = re.search(r"style-src 'self' 'nonce-([\w-]+)'", csp).group(1)
    assert "unsafe-inline" not in csp and "script-src 'self';" in csp
    expect(content(editor)).to_be_visible()
    # CodeMirror's own styles (a flex editor) applied: its <style> carries this response's nonce.
    assert editor.evaluate("getComputedStyle(document.querySelector('.cm-editor')).display") \
        == "flex"
    assert editor.evaluate(f"[...document.querySelectorAll('style')].every(s => s.nonce === "
                           f"'{nonce}')")
    # Markdown is highlighted: the heading line gets a styled token.
    heading = editor.locator(".cm-line", has_text="## Refund window").locator("span").first
    assert heading.evaluate("el => getComputedStyle(el).fontWeight") == "700"
    # Long lines wrap rather than scroll sideways.
    assert editor.locator(".cm-lineWrapping").count() == 1
    # The textarea is the form field, kept out of sight and of the tab order.
    body = editor.locator("textarea[name=body]")
    assert body.get_attribute("aria-hidden") == "true" and body.get_attribute("tabindex") == "-1"
    assert errors == [], errors
    # Other pages do not get a nonce at all.
    plain = editor.goto(live_server.url + "/policies/refunds").headers["content-security-policy"]
    assert "nonce" not in plain


def test_toolbar_buttons_and_shortcuts(editor, live_server):
    editor.goto(live_server.url + "/new")
    csp_violations(editor)
    bar = editor.get_by_role("toolbar", name="Formatting")
    expect(bar).to_be_visible()
    labels = bar.locator("button").all_inner_texts()
    assert labels == ["Heading", "Subheading", "Bold", "Bulleted list", "Numbered list", "Link",
                      "Table", "Note box", "Agents-only block"]
    content(editor).click()
    editor.keyboard.type("Opening hours")
    bar.get_by_role("button", name="Heading", exact=True).click()
    editor.keyboard.press("End")
    editor.keyboard.press("Enter")
    editor.keyboard.press("Enter")
    editor.keyboard.press("Control+b")
    editor.keyboard.type("Closed")
    editor.keyboard.press("End")
    editor.keyboard.press("Enter")
    editor.keyboard.type("Mondays")
    editor.keyboard.press("Control+Shift+8")
    bar.get_by_role("button", name="Table").click()
    body = editor.locator("textarea[name=body]")
    value = body.input_value()
    assert value.startswith("## Opening hours\n\n**Closed**\n- Mondays")
    assert "| Column | Column |\n| --- | --- |\n| Text | Text |" in value
    # Arrow keys move along the toolbar (one tab stop for the whole bar).
    bar.locator("button").first.focus()
    editor.keyboard.press("ArrowRight")
    expect(bar.get_by_role("button", name="Subheading")).to_be_focused()
    assert editor.evaluate("window.__csp") == []


def test_agents_only_button_wraps_the_selection(editor, live_server):
    editor.goto(live_server.url + "/new")
    content(editor).click()
    editor.keyboard.type("Everyone reads this.\nGoodwill credit up to $25.\nEveryone again.")
    # Select the middle line with the keyboard.
    editor.keyboard.press("ArrowUp")
    editor.keyboard.press("Home")
    editor.keyboard.press("Shift+End")
    editor.get_by_role("button", name="Agents-only block").click()
    value = editor.locator("textarea[name=body]").input_value()
    assert value == ("Everyone reads this.\n\n::: internal\nGoodwill credit up to $25.\n:::\n"
                     "\nEveryone again."), value
    preview = editor.locator("#preview .admonition.agents-only")
    expect(preview).to_contain_text("Goodwill credit up to $25.")
    # The keyboard shortcut does the same with an empty selection.
    editor.keyboard.press("Control+End")
    editor.keyboard.press("Control+Alt+i")
    assert editor.locator("textarea[name=body]").input_value().rstrip().endswith(
        "::: internal\nOnly agents see this.\n:::")


def test_draft_is_kept_and_offered_back(editor, live_server):
    editor.goto(live_server.url + EDIT)
    content(editor).click()
    editor.keyboard.press("Control+End")
    editor.keyboard.type("\n\nA sentence the browser must not lose.")
    editor.fill("input[name=title]", "Refunds (draft)")
    editor.wait_for_function("() => !!localStorage.getItem('kb-draft:/edit/policies/refunds')")
    # A crash: the tab goes away without saving (no beforeunload dialog is involved).
    editor.context.new_page().goto(live_server.url + EDIT)
    editor.close()
    again = editor.context.pages[-1]
    offer = again.locator("#draft-offer")
    expect(offer).to_be_visible()
    expect(again.locator(".cm-content")).not_to_contain_text("must not lose")
    offer.get_by_role("button", name="Restore the draft").click()
    expect(again.locator(".cm-content")).to_contain_text("A sentence the browser must not lose.")
    expect(again.locator("input[name=title]")).to_have_value("Refunds (draft)")
    assert "must not lose" in again.locator("textarea[name=body]").input_value()
    expect(again.locator("#preview")).to_contain_text("must not lose")


def test_discarded_draft_is_gone(editor, live_server):
    editor.goto(live_server.url + EDIT)
    content(editor).click()
    editor.keyboard.type("Scratch. ")
    editor.wait_for_function("() => !!localStorage.getItem('kb-draft:/edit/policies/refunds')")
    editor.evaluate("window.onbeforeunload = null")
    editor.once("dialog", lambda d: d.accept())
    editor.reload()
    editor.locator("#draft-offer").get_by_role("button", name="Discard it").click()
    expect(editor.locator("#draft-offer")).to_be_hidden()
    assert editor.evaluate("localStorage.getItem('kb-draft:/edit/policies/refunds')") is None


def test_warning_before_leaving_with_unsaved_changes(editor, live_server):
    editor.goto(live_server.url + EDIT)
    kinds = []
    editor.on("dialog", lambda d: (kinds.append(d.type), d.dismiss()))
    editor.goto(live_server.url + "/")  # nothing changed: leaves without asking
    assert kinds == []
    editor.goto(live_server.url + EDIT)
    content(editor).click()
    editor.keyboard.type("Unsaved. ")
    with pytest.raises(PlaywrightError):  # dismissing the dialog keeps the page
        editor.goto(live_server.url + "/", timeout=3000)
    assert kinds == ["beforeunload"]
    assert editor.url.endswith(EDIT)


def test_preview_follows_the_scroll(editor, live_server):
    editor.goto(live_server.url + "/new")
    long = "\n\n".join(f"## Part {i}\n\nParagraph {i} of a long policy." for i in range(60))
    editor.fill("textarea[name=body]", long)  # typed into the form field: mirrored in
    expect(editor.locator("#preview h2").nth(59)).to_have_text(re.compile("Part 59"))
    pane = editor.locator(".preview")
    assert pane.evaluate("el => el.scrollTop") == 0
    editor.locator(".cm-scroller").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    editor.wait_for_function("() => document.querySelector('.preview').scrollTop > 0")
    ratio = pane.evaluate("el => el.scrollTop / (el.scrollHeight - el.clientHeight)")
    assert ratio > 0.9


def test_dates_and_the_audience_switch(editor, live_server):
    editor.goto(live_server.url + EDIT)
    assert editor.locator("input[name=effective]").get_attribute("type") == "date"
    expect(editor.locator("input[name=review_by]")).to_have_value("2027-01-01")
    note = editor.locator("#audience-note")
    expect(note).to_have_text(re.compile(r"^Customers will see this page"))
    editor.select_option("select[name=audience]", "internal")
    expect(note).to_have_text(re.compile(r"^Customers will not see this page"))


def test_without_javascript_the_textarea_still_saves(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/login")
        page.fill("input[name=username]", "editor")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(live_server.url + "/new")
        expect(page.locator(".cm-editor")).to_have_count(0)
        body = page.locator("textarea[name=body]")
        expect(body).to_be_visible()
        expect(page.locator("#audience-note")).to_have_text(
            re.compile("Customers will not see this page"))
        page.fill("input[name=slug]", "no-script")
        page.fill("input[name=title]", "Written without scripts")
        body.fill("Plain **text**.")
        page.click("button:text('Save')")
        page.wait_for_url(live_server.url + "/policies/no-script")
        expect(page.locator(".content strong")).to_have_text("text")
    finally:
        context.close()
