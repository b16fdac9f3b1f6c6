"""Editor and agent workflows in real Chromium: conflicting saves, history and diff, and
confirming a material change.  Each test works on its own document of the shared server."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.history_helpers import commit

DOC = """\
    ---
    title: {title}
    audience: {audience}
    ---
    First paragraph about {word}.

    Middle paragraph stays.

    Last paragraph about {word}.
    """


def add_doc(live_server, slug: str, title: str, word: str, message: str = "Add",
            audience: str = "public") -> None:
    commit(live_server.content_dir, {f"policies/{slug}.md": DOC.format(
        title=title, word=word, audience=audience)}, message)


def test_conflicting_saves_show_the_three_way_view(live_server, signed_in):
    # Internal: saved at once (a public change is a proposal: browser/test_proposals.py).
    add_doc(live_server, "conflict-drill", "Conflict drill", "parcels", audience="internal")
    first, second = signed_in("editor"), signed_in("admin")
    edit = live_server.url + "/edit/policies/conflict-drill"
    first.goto(edit)
    second.goto(edit)  # both opened at the same base revision
    body = first.locator("textarea[name=body]")
    body.fill(body.input_value().replace("First paragraph", "Opening paragraph"))
    first.click("button:text('Save')")
    first.wait_for_url(live_server.url + "/policies/conflict-drill")

    other = second.locator("textarea[name=body]")
    other.fill(other.input_value().replace("Last paragraph", "Closing paragraph"))
    with second.expect_response(edit) as answer:
        second.click("button:text('Save')")
    assert answer.value.status == 409
    conflict = second.locator("section.conflict")
    expect(conflict).to_contain_text("do not overlap")
    expect(conflict.locator("details", has_text="Theirs")).to_contain_text("Opening paragraph")
    merged = second.locator("textarea[name=body]").input_value()
    assert "Opening paragraph" in merged and "Closing paragraph" in merged
    assert "<<<<<<<" not in merged
    second.click("button:text('Save')")
    second.wait_for_url(live_server.url + "/policies/conflict-drill")
    text = second.locator("article").inner_text()
    assert "Opening paragraph" in text and "Closing paragraph" in text


def test_history_and_diff(live_server, signed_in):
    add_doc(live_server, "diff-drill", "Diff drill", "boxes")
    commit(live_server.content_dir, {"policies/diff-drill.md": DOC.format(
        title="Diff drill", word="crates", audience="public")}, "Boxes are now crates")
    page = signed_in("agent")
    page.goto(live_server.url + "/policies/diff-drill")
    page.click("text=History")
    page.wait_for_url(live_server.url + "/history/policies/diff-drill")
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Boxes are now crates")
    rows.first.locator("text=Diff").click()
    page.wait_for_url(re.compile(r"/diff/policies/diff-drill\?to="))
    expect(page.locator("del").first).to_have_text("boxes")
    expect(page.locator("ins").first).to_have_text("crates")
    page.click("text=Markdown source")
    page.wait_for_url(re.compile(r"mode=source"))
    page.click("text=Inline")
    page.wait_for_url(re.compile(r"view=inline"))
    expect(page.locator("ins").first).to_have_text("crates")
    # "View" on the older revision shows the old text, labelled as an old version.
    page.goto(live_server.url + "/history/policies/diff-drill")
    rows.last.locator("text=View").click()
    expect(page.locator("article")).to_contain_text("boxes")
    expect(page.locator("body")).to_contain_text("version 1 of 2")


def test_material_change_must_be_confirmed(live_server, signed_in):
    add_doc(live_server, "ack-drill", "Acknowledge drill", "labels", audience="internal")
    agent = signed_in("agent")
    badge = agent.locator("header a", has_text="To read")
    before = int(badge.locator(".count").inner_text()) if badge.locator(".count").count() else 0
    # The editor makes a material change through the form ("material" box).
    editor = signed_in("editor")
    editor.goto(live_server.url + "/edit/policies/ack-drill")
    body = editor.locator("textarea[name=body]")
    body.fill(body.input_value().replace("labels", "return labels"))
    editor.check("input[name=material]")
    editor.click("button:text('Save')")
    editor.wait_for_url(live_server.url + "/policies/ack-drill")

    agent.goto(live_server.url + "/to-read")
    expect(badge.locator(".count")).to_have_text(str(before + 1))
    agent.click("main >> text=Acknowledge drill")
    agent.wait_for_url(live_server.url + "/policies/ack-drill")
    banner = agent.locator(".banner.unread")
    expect(banner).to_contain_text("Material change")
    banner.locator("button:text('I have read this')").click()
    expect(agent.locator(".flashes")).to_contain_text("you have read")
    expect(agent.locator(".banner.unread")).to_have_count(0)
    if before:
        expect(badge.locator(".count")).to_have_text(str(before))
    else:
        expect(badge.locator(".count")).to_have_count(0)
    agent.goto(live_server.url + "/to-read")
    expect(agent.locator("main")).not_to_contain_text("Acknowledge drill")
