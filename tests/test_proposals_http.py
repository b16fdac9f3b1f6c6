"""Proposals over HTTP: a gated save becomes a proposal; comment, request changes, update,
approve by a second person, publish as one merge with trailers, withdraw, stale forms."""

from __future__ import annotations

import re

import pytest

from app.accounts.auth import add_user
from app.db import connect
from tests.conftest import PASSWORD, git
from tests.history_helpers import commit, git_out
from tests.test_http_edit import form_of

REFUNDS = "policies/refunds.md"


@pytest.fixture
def people(app):
    db = connect(app.config["DATABASE"])
    for name in ("approver", "approver2"):
        add_user(db, name, PASSWORD, "approver")
    add_user(db, "editor2", PASSWORD, "editor")
    db.close()


def propose_refunds(client, auth, new="nearly all orders", user="editor"):
    auth.login(user)
    fields = form_of(client.get("/edit/policies/refunds").text)
    fields["body"] = fields["body"].replace("most orders", new)
    fields["message"] = "Refund wording"
    res = client.post("/edit/policies/refunds", data=fields)
    auth.logout()
    return res


def tip_of(page: str) -> str:
    return re.search(r'name="tip" value="([0-9a-f]{40})"', page).group(1)


def approve(client, auth, user, proposal="/proposals/1", **extra):
    auth.login(user)
    page = client.get(proposal).text
    res = client.post(f"{proposal}/approve", data={"tip": tip_of(page), **extra})
    auth.logout()
    return res


def test_public_change_becomes_a_proposal_and_main_is_untouched(client, auth, content_dir,
                                                                people):
    before = git_out(content_dir, "rev-parse", "HEAD")
    auth.login("editor")
    page = client.get("/edit/policies/refunds").text
    assert "what customers" in page  # told before saving what will happen
    auth.logout()
    res = propose_refunds(client, auth)
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1"
    assert git_out(content_dir, "rev-parse", "HEAD") == before
    assert "nearly all orders" not in (content_dir / REFUNDS).read_text()
    branch = git_out(content_dir, "for-each-ref", "--format=%(refname)", "refs/heads/proposals")
    assert branch.strip() == "refs/heads/proposals/1-refund-wording"
    auth.login("approver")
    page = client.get("/proposals/1").text
    assert "What customers will see change" in page and "<ins>nearly all</ins>" in page
    assert "Source diff" in page and "Open" in page and "Effective: 2026-01-01" in page
    assert 'action="/proposals/1/approve"' in page
    assert client.get("/policies/refunds").text.count("nearly all orders") == 0


def test_internal_only_change_publishes_directly(client, auth, content_dir):
    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    fields["body"] = fields["body"].replace("up to $25", "up to $30")
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 302 and res.headers["Location"] == "/policies/refunds"
    assert "up to $30" in (content_dir / REFUNDS).read_text()
    res = client.post("/edit/gate?kind=policy&slug=refunds", data=fields)
    assert res.json["gated"] is False and "publishes at once" in res.json["message"]
    fields["body"] = fields["body"].replace("30 days", "60 days")
    res = client.post("/edit/gate?kind=policy&slug=refunds", data=fields)
    assert res.json["gated"] is True and "needs 1 approval" in res.json["message"]


def test_author_never_approves_own_proposal(client, auth, content_dir, people):
    propose_refunds(client, auth, user="approver")
    auth.login("approver")
    page = client.get("/proposals/1").text
    assert 'action="/proposals/1/approve"' not in page
    tip = git_out(content_dir, "rev-parse", "proposals/1-refund-wording").strip()
    res = client.post("/proposals/1/approve", data={"tip": tip})
    assert res.status_code == 409 and "someone else must approve" in res.text


def test_full_flow_comment_request_changes_update_approve_publish(client, auth, content_dir,
                                                                 people):
    propose_refunds(client, auth)
    auth.login("approver")
    page = client.get("/proposals/1").text
    first_tip = tip_of(page)
    assert client.post("/proposals/1/comment", data={"comment": "Why nearly?"}).status_code == 303
    res = client.post("/proposals/1/request-changes",
                      data={"tip": first_tip, "comment": "Say all orders"})
    assert res.status_code == 303
    assert "Changes requested" in client.get("/proposals/1").text
    auth.logout()
    # The author is told, and goes on editing the proposal (not the published text).
    auth.login("editor")
    queue = client.get("/proposals").text
    assert "needs changes" in queue
    fields = form_of(client.get("/edit/policies/refunds").text)
    assert "nearly all orders" in fields["body"] and fields["base_rev"] == first_tip
    fields["body"] = fields["body"].replace("nearly all orders", "all orders")
    fields["message"] = "Say all"
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1"
    page = client.get("/proposals/1").text
    assert "Why nearly?" in page and "Say all orders" in page and "Open" in page
    auth.logout()
    assert git_out(content_dir, "rev-list", "--count",
                   "main..proposals/1-refund-wording").strip() == "2"
    # The old approve form is stale now.
    auth.login("approver")
    stale = client.post("/proposals/1/approve", data={"tip": first_tip})
    assert stale.status_code == 409 and "changed since you opened it" in stale.text
    auth.logout()
    res = approve(client, auth, "approver")
    assert res.status_code == 303
    text = (content_dir / REFUNDS).read_text()
    assert "We refund all orders." in text
    parents = git_out(content_dir, "log", "-1", "--format=%P").split()
    assert len(parents) == 2
    message = git_out(content_dir, "log", "-1", "--format=%B")
    assert "Approved-by: approver" in message and "Proposal: 1" in message
    assert git_out(content_dir, "for-each-ref", "refs/heads/proposals").strip() == ""
    auth.login("editor")
    assert "Published" in client.get("/proposals/1").text
    history = client.get("/history/policies/refunds").text
    assert "approved by approver" in history
    assert history.count("<tr") == 3  # header + the merge + the first version: one revision
    assert "was published" in client.get("/proposals").text
    assert "all orders" in client.get("/policies/refunds").text
    auth.logout()
    again = approve_published = None
    auth.login("approver2")
    again = client.post("/proposals/1/approve", data={"tip": parents[1]})
    approve_published = again.status_code
    assert approve_published == 409 and "already published" in again.text


def test_withdraw(client, auth, content_dir, people):
    propose_refunds(client, auth)
    auth.login("editor2")
    assert client.post("/proposals/1/withdraw").status_code == 409  # not the author
    auth.logout()
    auth.login("editor")
    assert client.post("/proposals/1/withdraw").status_code == 303
    assert "Withdrawn" in client.get("/proposals/1").text
    auth.logout()
    auth.login("approver")
    page = client.get("/proposals/1").text
    assert 'action="/proposals/1/approve"' not in page
    res = client.post("/proposals/1/approve", data={"tip": "0" * 40})
    assert res.status_code == 409 and "withdrawn" in res.text
    # Editing again starts a new proposal.
    auth.logout()
    assert propose_refunds(client, auth).headers["Location"] == "/proposals/2"


def test_conflict_shows_three_way_merge_and_waits(client, auth, content_dir, people):
    propose_refunds(client, auth)
    commit(content_dir, {REFUNDS: (content_dir / REFUNDS).read_text().replace(
        "most orders", "many orders")}, "Theirs")
    head = git_out(content_dir, "rev-parse", "HEAD")
    res = approve(client, auth, "approver")
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1/resolve"
    assert git_out(content_dir, "rev-parse", "HEAD") == head  # nothing published
    auth.login("approver")
    page = client.get("/proposals/1/resolve")
    assert page.status_code == 409 and "Theirs (now current)" in page.text
    assert "&lt;&lt;&lt;&lt;&lt;&lt;&lt; yours" in page.text
    assert "Open" in client.get("/proposals/1").text
    auth.logout()
    auth.login("editor")
    form = page.text
    main = re.search(r'name="main" value="([0-9a-f]+)"', form).group(1)
    tip = tip_of(form)
    bad = client.post("/proposals/1/resolve", data={
        "tip": tip, "main": main, f"text:{REFUNDS}": "<<<<<<< yours\nx\n"})
    assert bad.status_code == 409 and "conflict markers" in bad.text
    resolved = (content_dir / REFUNDS).read_text().replace("many orders", "all orders")
    res = client.post("/proposals/1/resolve", data={"tip": tip, "main": main,
                                                    f"text:{REFUNDS}": resolved})
    assert res.status_code == 303
    auth.logout()
    assert approve(client, auth, "approver").status_code == 303
    assert "We refund all orders." in (content_dir / REFUNDS).read_text()
    assert "Approved-by: approver" in git_out(content_dir, "log", "-1", "--format=%B")


def test_clean_merge_with_other_changes_on_main(client, auth, content_dir, people):
    propose_refunds(client, auth)
    commit(content_dir, {REFUNDS: (content_dir / REFUNDS).read_text().replace(
        "go to the returns team", "go to the claims team")}, "Theirs elsewhere")
    assert approve(client, auth, "approver").status_code == 303
    text = (content_dir / REFUNDS).read_text()
    assert "nearly all orders" in text and "claims team" in text


def test_emergency_publish_by_admin_is_recorded_and_listed(client, auth, content_dir, people):
    propose_refunds(client, auth)
    auth.login("approver")
    assert client.post("/proposals/1/emergency",
                       data={"reason": "x", "tip": "0" * 40}).status_code == 403
    auth.logout()
    auth.login("admin")
    tip = tip_of(client.get("/proposals/1").text)
    res = client.post("/proposals/1/emergency", data={"reason": " ", "tip": tip})
    assert res.status_code == 409 and "reason" in res.text
    res = client.post("/proposals/1/emergency", data={"reason": "Regulator deadline",
                                                      "tip": tip})
    assert res.status_code == 303
    message = git_out(content_dir, "log", "-1", "--format=%B")
    assert "Emergency: Regulator deadline" in message and "Proposal: 1" in message
    assert "Approved-by" not in message
    audit = client.get("/manage/approvals").text
    assert "Emergency changes to review" in audit and "Regulator deadline" in audit
    csv = client.get("/manage/approvals?format=csv")
    assert csv.mimetype == "text/csv"
    assert csv.text.splitlines()[0].startswith("proposal,title,author,status,documents")
    assert "Regulator deadline" in csv.text and "editor" in csv.text


def test_audit_lists_who_proposed_and_approved(client, auth, people):
    propose_refunds(client, auth)
    approve(client, auth, "approver")
    auth.login("editor")
    rows = client.get("/manage/approvals?format=csv").text.splitlines()
    assert rows[1].startswith("1,Refund wording,editor,published,policies/refunds.md,approver,")


def test_pushed_branch_is_listed_and_can_be_approved(client, auth, content_dir, people):
    git(content_dir, "checkout", "-q", "-b", "proposals/7-late-claims")
    path = content_dir / REFUNDS
    path.write_text(path.read_text().replace("returns team", "claims desk"))
    git(content_dir, "-c", "user.name=editor2", "commit", "-qam", "Late claims desk")
    faq = content_dir / "faq/track-order.md"
    faq.write_text(faq.read_text().replace("shipping email", "shipping e-mail"))
    git(content_dir, "-c", "user.name=editor2", "commit", "-qam", "Spelling")
    git(content_dir, "checkout", "-q", "main")
    auth.login("approver")
    queue = client.get("/proposals").text
    assert "Late claims desk" in queue and "editor2" in queue
    page = client.get("/proposals/7").text
    assert "faq/track-order.md" in page and "claims desk" in page
    auth.logout()
    assert approve(client, auth, "approver", "/proposals/7").status_code == 303
    assert "claims desk" in path.read_text() and "e-mail" in faq.read_text()


def test_deleted_branch_is_a_clear_message_and_can_be_restored(client, auth, content_dir,
                                                               people):
    propose_refunds(client, auth)
    auth.login("approver")
    tip = tip_of(client.get("/proposals/1").text)
    git(content_dir, "branch", "-q", "-D", "proposals/1-refund-wording")
    page = client.get("/proposals/1")
    assert page.status_code == 200 and "branch was deleted" in page.text
    res = client.post("/proposals/1/approve", data={"tip": tip})
    assert res.status_code == 409 and "deleted" in res.text
    assert client.post("/proposals/1/restore").status_code == 303
    assert approve(client, auth, "approver").status_code == 303
    assert "nearly all orders" in (content_dir / REFUNDS).read_text()


def test_force_pushed_branch_needs_approving_again(client, auth, content_dir, people):
    db = connect(client.application.config["DATABASE"])
    add_user(db, "approver3", PASSWORD, "approver")
    db.close()
    (content_dir / "workflow.yml").write_text("approvals: 2\n")
    git(content_dir, "add", "workflow.yml")
    git(content_dir, "commit", "-qm", "Two approvals")
    propose_refunds(client, auth)
    assert approve(client, auth, "approver").status_code == 303  # 1 of 2
    assert "nearly all" not in (content_dir / REFUNDS).read_text()
    git(content_dir, "checkout", "-q", "proposals/1-refund-wording")
    git(content_dir, "commit", "-q", "--amend", "-m", "Rewritten")
    git(content_dir, "checkout", "-q", "main")
    auth.login("approver2")
    page = client.get("/proposals/1").text
    assert "rewrote the branch" in page
    assert 'id="approval-count">0<' in page
    auth.logout()
    assert approve(client, auth, "approver2").status_code == 303
    assert "nearly all" not in (content_dir / REFUNDS).read_text()  # still 1 of 2
    assert approve(client, auth, "approver3").status_code == 303
    message = git_out(content_dir, "log", "-1", "--format=%B")
    assert "Approved-by: approver2" in message and "Approved-by: approver3" in message


def test_agents_and_customers_never_reach_proposals(client, auth, people):
    propose_refunds(client, auth)
    for user in (None, "agent"):
        if user:
            auth.login(user)
        for url in ("/proposals", "/proposals/1", "/proposals/1/resolve"):
            res = client.get(url)
            assert res.status_code == 404 and "nearly all" not in res.text
        assert client.post("/proposals/1/approve", data={"tip": "0" * 40}).status_code == 404
        assert client.get("/manage/approvals").status_code == 404
        if user:
            auth.logout()


def test_badge_counts_open_proposals_for_approvers(client, auth, people):
    propose_refunds(client, auth)
    auth.login("approver")
    assert 'id="proposal-badge"' in client.get("/proposals").text
    auth.logout()
    auth.login("editor")  # an editor may not approve: no badge
    assert 'id="proposal-badge"' not in client.get("/proposals").text


def test_effective_date_still_applies_after_approval(app, client, auth, content_dir, people):
    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    fields.update(body=fields["body"].replace("30 days of delivery", "14 days of delivery"),
                  effective="2099-01-01", message="Shorter window next century")
    assert client.post("/edit/policies/refunds", data=fields).status_code == 303
    auth.logout()
    assert approve(client, auth, "approver").status_code == 303
    assert "14 days" in (content_dir / REFUNDS).read_text()
    page = client.get("/policies/refunds").text  # a customer: the version in force today
    assert "30 days of delivery" in page and "14 days of delivery" not in page


def test_deleting_or_renaming_a_public_document_is_a_proposal(client, auth, content_dir,
                                                             people):
    auth.login("editor")
    res = client.post("/delete/policies/refunds", data={"message": "Drop refunds"})
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1"
    assert (content_dir / REFUNDS).exists()
    res = client.post("/rename/faq/track-order", data={"new_slug": "tracking",
                                                       "message": "Shorter address"})
    assert res.headers["Location"] == "/proposals/2"
    assert client.get("/faq/track-order").status_code == 200
    auth.logout()
    assert approve(client, auth, "approver").status_code == 303
    assert approve(client, auth, "approver", "/proposals/2").status_code == 303
    assert not (content_dir / REFUNDS).exists()
    assert client.get("/faq/tracking").status_code == 200
    assert client.get("/faq/track-order").status_code == 404


def test_admin_emergency_from_the_edit_form(client, auth, content_dir, people):
    auth.login("admin")
    fields = form_of(client.get("/edit/policies/refunds").text)
    assert "emergency" in fields
    fields.update(body=fields["body"].replace("most orders", "every order"),
                  emergency="Court order", message="Refunds now")
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1"
    assert "We refund every order." in (content_dir / REFUNDS).read_text()
    message = git_out(content_dir, "log", "-1", "--format=%B")
    assert "Emergency: Court order" in message and "Proposal: 1" in message
    assert "Court order" in client.get("/manage/approvals").text
    auth.logout()
    auth.login("editor")  # an editor's "emergency" field is ignored: a proposal, unpublished
    fields = form_of(client.get("/edit/faq/track-order").text)
    fields.update(body="Call us.", emergency="Because", message="Shorter")
    assert client.post("/edit/faq/track-order", data=fields).headers["Location"] == \
        "/proposals/2"
    assert "Call us." not in (content_dir / "faq/track-order.md").read_text()


def test_interrupted_publish_is_reopened(app, client, auth, content_dir, people):
    propose_refunds(client, auth)
    db = connect(app.config["DATABASE"])
    with db:
        db.execute("UPDATE proposals SET status = 'approved', "
                   "updated_at = '2000-01-01T00:00:00+00:00'")
    db.close()
    auth.login("approver")
    assert "Open" in client.get("/proposals/1").text
    auth.logout()
    assert approve(client, auth, "approver").status_code == 303
    assert "nearly all orders" in (content_dir / REFUNDS).read_text()
