"""History over HTTP: who sees what, old revisions, diffs, public changelog, effective dates."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.conftest import CANARY_BLOCK, CANARY_DOC, CANARY_TITLE
from tests.history_helpers import commit, git_out, refunds, refunds_versions

REFUNDS = "policies/refunds.md"
CANARY_MSG = "canarycommitmessage"
CANARY_AUTHOR = "Canaryauthor Person"
CANARY_SWITCH = "canaryswitchword"


@pytest.mark.parametrize("url", ["/history/policies/refunds", "/diff/policies/refunds",
                                 "/history/policies/escalation", "/changes/policies/escalation",
                                 "/changes/faq/agents/log-credit", "/history/nope/x"])
def test_anonymous_gets_404(client, url):
    assert client.get(url).status_code == 404


def test_agent_sees_history_and_diff(client, auth, content_dir):
    commit(content_dir, {REFUNDS: (content_dir / REFUNDS).read_text().replace(
        "most orders", "nearly all orders")}, "Reword the opening")
    auth.login("agent")
    page = client.get("/history/policies/refunds")
    assert page.status_code == 200
    assert "Reword the opening" in page.text and "Outside Owner" in page.text
    assert "Restore" not in page.text  # agents read history; editors restore
    diff = client.get("/diff/policies/refunds?view=inline")
    assert "<del>most</del>" in diff.text and "<ins>nearly all</ins>" in diff.text
    source = client.get("/diff/policies/refunds?mode=source&view=side")
    assert source.status_code == 200 and "<ins>nearly all</ins>" in source.text


def test_view_old_revision_labelled(client, auth, content_dir):
    commit(content_dir, {REFUNDS: refunds("Brand new text.\n")}, "Rewrite")
    auth.login("agent")
    history = client.get("/history/policies/refunds").text
    first = re.findall(r"\?rev=([0-9a-f]+)", history)[-1]
    old = client.get(f"/policies/refunds?rev={first}")
    assert "You are viewing version 1 of 2" in old.text and "We refund most orders" in old.text
    assert client.get("/policies/refunds").text.count("Brand new text.") == 1


@pytest.mark.parametrize("rev", ["HEAD", "--output=x", "0" * 40, "abc"])
def test_bad_rev_is_404(client, auth, rev):
    auth.login("agent")
    assert client.get(f"/policies/refunds?rev={rev}").status_code == 404


def test_history_pages(client, auth, content_dir):
    for i in range(55):
        commit(content_dir, {REFUNDS: refunds(f"Version {i}.\n")}, f"Edit number {i}")
    auth.login("agent")
    first, second = client.get("/history/policies/refunds"), client.get(
        "/history/policies/refunds?page=2")
    assert "Edit number 54" in first.text and "Edit number 4<" not in first.text
    assert "Edit number 4<" in second.text and "Fixture content" in second.text
    assert client.get("/history/policies/refunds?page=x").status_code == 200


@pytest.fixture
def public_history(content_dir):
    """Public and internal changes, including a document that switched audience."""
    text = (content_dir / REFUNDS).read_text()
    # 1. internal-only change (text inside the internal block), with canary message/author
    commit(content_dir, {REFUNDS: text.replace("up to $25", "up to $30")}, CANARY_MSG,
           author=CANARY_AUTHOR)
    # 2. a public change with a public note
    text = (content_dir / REFUNDS).read_text()
    commit(content_dir, {REFUNDS: text.replace("most orders", "nearly all orders")},
           f"{CANARY_MSG} public\n\nPublic-Note: We refund more orders now")
    # 3. internal document edited
    commit(content_dir, {"policies/escalation.md": (content_dir / "policies/escalation.md")
                         .read_text() + f"\nMore {CANARY_DOC}.\n"}, "Internal doc")
    # 4. a public FAQ goes internal, gains a canary, goes public again without it
    faq = "faq/track-order.md"
    original = (content_dir / faq).read_text()
    internal = original.replace("audience: public", "audience: internal")
    commit(content_dir, {faq: internal}, "Hide")
    commit(content_dir, {faq: internal + f"\n{CANARY_SWITCH}\n"}, "Secret while hidden")
    commit(content_dir, {faq: original + "\nUse the app too.\n"}, "Publish again")


PUBLIC_URLS = ["/changes", "/changes.atom", "/changes/policies/refunds",
               "/changes/faq/track-order"]


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_changelog_never_leaks(client, public_history, url):
    res = client.get(url)
    assert res.status_code == 200
    for canary in (CANARY_BLOCK, CANARY_DOC, CANARY_TITLE, CANARY_MSG, CANARY_AUTHOR,
                   CANARY_SWITCH, "$30", "$25", "Outside Owner", "Hide"):
        assert canary not in res.text, canary


def test_public_changelog_content(client, public_history):
    site = client.get("/changes").text
    assert "We refund more orders now" in site
    assert site.count('href="/policies/refunds"') == 2  # published + one public update only
    refunds_log = client.get("/changes/policies/refunds").text
    assert refunds_log.count("<section") == 2
    assert "<ins>nearly all</ins>" in refunds_log
    faq_log = client.get("/changes/faq/track-order").text
    assert faq_log.count("<section") == 2 and faq_log.count("Published") == 2
    feed = client.get("/changes.atom")
    assert feed.mimetype == "application/atom+xml" and feed.text.count("<entry>") >= 3


def test_public_document_links_to_changes(client):
    assert 'href="/changes/policies/refunds"' in client.get("/policies/refunds").text


def test_changelog_pages_only_as_far_as_the_site_links(client, content_dir, monkeypatch):
    """Issue 12, item 11: ``?page=100`` made one anonymous request walk 1,001 changes."""
    from app.history import changelog

    monkeypatch.setattr(changelog, "MAX_PAGES", 2)
    for i in range(25):  # 26 public changes: more than the 2 pages of 10 the site links to
        commit(content_dir, {REFUNDS: refunds(f"Version {i}.\n")}, f"Edit {i}")
    first = client.get("/changes/policies/refunds")
    assert first.status_code == 200 and 'href="?page=2"' in first.text
    second = client.get("/changes/policies/refunds?page=2")
    assert second.status_code == 200 and second.text.count("<section") == 10
    assert 'rel="next"' not in second.text and "Older changes are not listed" in second.text
    for beyond in ("3", "100", "0", "-1"):
        assert client.get(f"/changes/policies/refunds?page={beyond}").status_code == 404, beyond


def test_changelog_page_past_the_last_change_is_404(client):
    assert client.get("/changes/policies/refunds").status_code == 200
    assert client.get("/changes/policies/refunds?page=2").status_code == 404


@pytest.fixture
def upcoming(app, content_dir):
    refunds_versions(content_dir, ("In force since March.\n", "2026-03-01", "2026-02-01"),
                     ("Coming in 2027.\n", "2027-01-01", "2026-06-01"))
    return app


@pytest.mark.parametrize(("today", "public_text"), [
    (dt.date(2026, 12, 31), "In force since March."),
    (dt.date(2027, 1, 1), "Coming in 2027."),
])
def test_public_sees_version_in_force(upcoming, client, today, public_text):
    upcoming.config["KB_TODAY"] = today
    page = client.get("/policies/refunds")
    assert public_text in page.text
    assert ("Coming in 2027." in page.text) == (public_text == "Coming in 2027.")


def test_staff_see_upcoming_banner(upcoming, client, auth):
    upcoming.config["KB_TODAY"] = dt.date(2026, 12, 31)
    auth.login("agent")
    page = client.get("/policies/refunds")
    assert "Changes take effect on 2027-01-01" in page.text and "Coming in 2027." in page.text
    link = re.search(r'href="(/diff/policies/refunds\?from=[0-9a-f]+)"', page.text).group(1)
    diff = client.get(link.replace("&amp;", "&"))
    assert "<del>In force since March.</del>" in diff.text or "<del>" in diff.text
    customer = client.get("/policies/refunds?as=customer")
    assert "In force since March." in customer.text and "Coming in 2027" not in customer.text


@pytest.mark.parametrize(("as_of", "status", "text", "label"), [
    ("2026-03-01", 200, "In force since March.", "2026-03-01"),
    ("2026-12-31", 200, "In force since March.", "2026-12-31"),
    # The public never reads a version before it applies: a later date means today.
    ("2027-01-01", 200, "In force since March.", "2026-12-31"),
    ("2026-02-28", 404, None, None),
    ("2026-13-01", 400, None, None),
    ("yesterday", 400, None, None),
])
def test_as_of(upcoming, client, as_of, status, text, label):
    upcoming.config["KB_TODAY"] = dt.date(2026, 12, 31)
    res = client.get(f"/policies/refunds?as_of={as_of}")
    assert res.status_code == status
    if text:
        assert text in res.text and f"Version in force on {label}" in res.text
        assert "Coming in 2027." not in res.text


def test_as_of_future_for_staff(upcoming, client, auth):
    upcoming.config["KB_TODAY"] = dt.date(2026, 12, 31)
    auth.login("agent")
    res = client.get("/policies/refunds?as_of=2027-01-01")
    assert "Coming in 2027." in res.text and "Version in force on 2027-01-01" in res.text


def test_as_of_never_shows_internal_revision(client, content_dir):
    commit(content_dir, {REFUNDS: refunds(f"Hidden {CANARY_SWITCH}.\n", audience="internal")},
           "Hide", date="2026-04-01")
    res = client.get("/policies/refunds?as_of=2026-04-02")
    assert CANARY_SWITCH not in res.text


@pytest.mark.parametrize(("today", "listed"), [(dt.date(2026, 12, 31), False),
                                               (dt.date(2027, 1, 1), True)])
def test_upcoming_new_document_not_listed_before_its_date(app, client, auth, content_dir,
                                                          today, listed):
    commit(content_dir, {"faq/new-service.md": "---\ntitle: Futureservice question\n"
                         "audience: public\neffective: 2027-01-01\n---\nSoon.\n"}, "Add")
    app.config["KB_TODAY"] = today
    for url in ("/", "/sitemap.xml"):
        assert ("new-service" in client.get(url).text) == listed, url
    assert client.get("/faq/new-service").status_code == (200 if listed else 404)
    auth.login("agent")
    assert "Futureservice question" in client.get("/").text  # staff see what is coming


@pytest.mark.parametrize("query", ["rev={first}", "as_of=2030-01-01"])
def test_old_versions_of_a_now_internal_document_are_404(client, content_dir, query):
    first = commit(content_dir, {REFUNDS: refunds("Public once.\n")}, "Public", date="2026-02-01")
    commit(content_dir, {REFUNDS: refunds("Now hidden.\n", audience="internal")}, "Hide")
    res = client.get("/policies/refunds?" + query.format(first=first))
    assert res.status_code == 404 and "Public once" not in res.text


def test_printed_version_names_the_revision_in_force(upcoming, client, content_dir):
    upcoming.config["KB_TODAY"] = dt.date(2026, 12, 31)
    march = git_out(content_dir, "rev-parse", "HEAD~1").strip()
    assert f"({march[:8]})" in client.get("/policies/refunds").text


def test_atom_feed_is_escaped_xml(client, content_dir):
    import xml.etree.ElementTree as ET

    text = (content_dir / REFUNDS).read_text().replace("most orders", "all orders")
    commit(content_dir, {REFUNDS: text}, "x\n\nPublic-Note: Refunds <b>& more</b>")
    feed = ET.fromstring(client.get("/changes.atom").data)  # noqa: S314 - our own output
    ns = {"a": "http://www.w3.org/2005/Atom"}
    summaries = [e.text for e in feed.findall("a:entry/a:summary", ns)]
    assert "Refunds <b>& more</b> (in force from 2026-01-01)" in summaries
