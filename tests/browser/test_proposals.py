"""Proposals in real Chromium: propose, comment, request changes, update, approve by a second
person, publish; a conflict resolved in the three-way view; an admin's emergency publish.
Each test works on its own document of the shared server."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import expect

from tests.browser.test_workflows import add_doc
from tests.conftest import PASSWORD
from tests.history_helpers import commit


@pytest.fixture
def approvers(live_server):
    from app.accounts.auth import add_user

    conn = sqlite3.connect(live_server.data_dir / "portal.sqlite3")
    try:
        for name in ("approver", "approver2"):
            if not conn.execute("SELECT 1 FROM users WHERE username = ?", (name,)).fetchone():
                add_user(conn, name, PASSWORD, "approver")
    finally:
        conn.close()


def propose(live_server, page, slug: str, old: str, new: str) -> str:
    """Edit a public paragraph as the signed-in editor; returns the proposal's URL."""
    page.goto(f"{live_server.url}/edit/policies/{slug}")
    expect(page.locator("#gate")).to_contain_text("Saving publishes at once when only")
    body = page.locator("textarea[name=body]")
    body.fill(body.input_value().replace(old, new))
    # Told before saving: this change needs approval (gate.js asks the server as you type).
    expect(page.locator("#gate")).to_contain_text("Saving makes a proposal")
    page.click("button:text('Save')")
    page.wait_for_url(re.compile(r".*/proposals/\d+$"))
    return page.url


def test_propose_comment_request_changes_update_approve_publish(live_server, signed_in,
                                                                approvers):
    add_doc(live_server, "proposal-drill", "Proposal drill", "parcels")
    editor, approver = signed_in("editor"), signed_in("approver")
    url = propose(live_server, editor, "proposal-drill", "First paragraph about parcels",
                  "First paragraph about boxes")
    expect(editor.locator("h3", has_text="What customers will see change")).to_be_visible()
    expect(editor.locator("#proposal-status")).to_have_text("Open")
    expect(editor.locator("#approve")).to_have_count(0)  # never one's own
    approver.goto(url)
    expect(approver.locator(".diff ins").first).to_contain_text("boxes")
    approver.fill("textarea[name=comment]", "Boxes or parcels?")
    approver.click("button:text('Add comment')")
    expect(approver.locator(".events")).to_contain_text("Boxes or parcels?")
    approver.fill("input[name=comment]", "Say cartons")
    approver.click("#request-changes")
    expect(approver.locator("#proposal-status")).to_have_text("Changes requested")
    # The author is told, and updates the proposal from its own text.
    editor.goto(live_server.url + "/proposals")
    expect(editor.locator(".notice").first).to_contain_text("needs changes")
    editor.goto(live_server.url + "/edit/policies/proposal-drill")
    expect(editor.locator(".notice")).to_contain_text("You are editing your open")
    body = editor.locator("textarea[name=body]")
    assert "about boxes" in body.input_value()
    body.fill(body.input_value().replace("about boxes", "about cartons"))
    expect(editor.locator("#gate")).to_contain_text("adds a version to your proposal")
    editor.click("button:text('Save')")
    editor.wait_for_url(url)
    expect(editor.locator("#proposal-status")).to_have_text("Open")
    # A second person approves: it is published as one merge.
    approver.goto(url)
    approver.click("#approve")
    expect(approver.locator("#proposal-status")).to_have_text("Published")
    approver.goto(live_server.url + "/policies/proposal-drill")
    expect(approver.locator(".content")).to_contain_text("First paragraph about cartons")
    approver.goto(live_server.url + "/history/policies/proposal-drill")
    expect(approver.locator("a.badge.approved")).to_have_text("approved by approver")


def test_conflict_waits_for_the_three_way_merge(live_server, signed_in, approvers):
    add_doc(live_server, "conflict-proposal", "Conflict proposal", "crates")
    editor, approver = signed_in("editor"), signed_in("approver2")
    url = propose(live_server, editor, "conflict-proposal", "Last paragraph about crates",
                  "Last paragraph about pallets")
    path = live_server.content_dir / "policies/conflict-proposal.md"
    commit(live_server.content_dir, {"policies/conflict-proposal.md": path.read_text().replace(
        "Last paragraph about crates.", "Last paragraph about bins.")}, "Theirs on main")
    approver.goto(url)
    approver.click("#approve")
    approver.wait_for_url(url + "/resolve")
    expect(approver.locator(".three-way")).to_contain_text("Theirs (now current)")
    area = approver.locator("textarea").first
    assert "<<<<<<< yours" in area.input_value()
    merged = re.sub(r"<<<<<<< yours\n(.*?)=======\n.*?>>>>>>> theirs\n", r"\1",
                    area.input_value(), flags=re.S)
    area.fill(merged)
    approver.click("button:text('Record the merge')")
    approver.wait_for_url(url)
    approver.click("#approve")
    expect(approver.locator("#proposal-status")).to_have_text("Published")
    assert "Last paragraph about pallets." in path.read_text()


def test_emergency_publish_is_listed_for_review(live_server, signed_in, approvers):
    add_doc(live_server, "emergency-drill", "Emergency drill", "recalls")
    editor, admin = signed_in("editor"), signed_in("admin")
    url = propose(live_server, editor, "emergency-drill", "Middle paragraph stays",
                  "Middle paragraph changes now")
    admin.goto(url)
    admin.fill("input[name=reason]", "Product recall today")
    admin.click("#emergency")
    expect(admin.locator("#proposal-status")).to_have_text("Published")
    admin.goto(live_server.url + "/manage/approvals")
    expect(admin.locator(".emergencies")).to_contain_text("Product recall today")
