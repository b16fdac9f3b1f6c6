"""Owners' dashboard, review banner and `kb due`, over HTTP and the CLI."""

import pytest

from tests.conftest import CANARY_TITLE, git


@pytest.fixture
def dated(app, content_dir):
    """Fixture content as of 2026-11-23 with one overdue and one due-soon document."""
    app.config["KB_TODAY"] = "2026-11-23"
    (content_dir / "policies" / "overdue.md").write_text(
        "---\ntitle: Overdue policy\naudience: public\nowner: cx@example.com\n"
        "review_by: 2026-10-01\n---\nWe reply quickly.\n")
    (content_dir / "policies" / "soon.md").write_text(
        "---\ntitle: Soon policy\naudience: internal\nowner: agent@example.com\n"
        "review_by: 2026-12-10\n---\nText.\n")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "Dated documents")
    return app


def test_dashboard_tabs(dated, client, auth):
    auth.login("editor")
    page = client.get("/manage").get_data(as_text=True)
    assert "Overdue policy" in page and "Soon policy" not in page
    assert "53 days overdue" in page
    assert "Vague promise" in page  # clarity findings on the row
    due = client.get("/manage?view=due").get_data(as_text=True)
    assert "Soon policy" in due and "in 17 days" in due
    mine = client.get("/manage?view=mine&owner=agent").get_data(as_text=True)
    assert "Soon policy" in mine and "Overdue policy" not in mine
    everything = client.get("/manage?view=all&sort=title").get_data(as_text=True)
    assert everything.index("Overdue policy") < everything.index("Refunds")


@pytest.mark.parametrize("who, status", [(None, 302), ("agent", 403), ("editor", 200),
                                         ("admin", 200)])
def test_dashboard_is_for_editors(client, auth, who, status):
    if who:
        auth.login(who)
    assert client.get("/manage").status_code == status


def test_bad_parameters_fall_back(dated, client, auth):
    auth.login("editor")
    assert client.get("/manage?view=../../x&sort=__class__").status_code == 200


def test_overdue_banner_for_agents_only(dated, client, auth):
    public = client.get("/policies/overdue").get_data(as_text=True)
    assert "Overdue for review" not in public and "2026-10-01" not in public
    auth.login("agent")
    page = client.get("/policies/overdue").get_data(as_text=True)
    assert "Overdue for review since 1 October 2026" in page
    assert "Overdue for review" not in client.get("/policies/overdue?as=customer").get_data(
        as_text=True)
    assert "Overdue for review" not in client.get("/policies/refunds").get_data(as_text=True)


def test_kb_due(dated, runner):
    result = runner.invoke(args=["kb", "due"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "policies/overdue.md\tcx@example.com\t2026-10-01\t53 days overdue"]
    result = runner.invoke(args=["kb", "due", "--within", "30"])
    assert "policies/soon.md\tagent@example.com\t2026-12-10\tdue in 17 days" in result.output


def test_nothing_here_is_visible_anonymously(dated, client):
    for url in ("/manage", "/manage?view=all"):
        body = client.get(url).get_data(as_text=True)
        assert CANARY_TITLE not in body and "Soon policy" not in body


def test_reviewed_action_is_a_commit(dated, client, auth, content_dir):
    before = git(content_dir, "rev-parse", "HEAD").strip()
    auth.login("editor")
    page = client.get("/manage").get_data(as_text=True)
    assert "Reviewed — no change needed" in page
    res = client.post("/manage/reviewed/policies/overdue", data={"view": "overdue"})
    assert res.status_code == 303
    assert "next review by 2027-11-23" in client.get("/manage").get_data(as_text=True)
    log = git(content_dir, "log", "-1", "--format=%an|%s|%(trailers:key=Material,valueonly)")
    assert log.strip() == "editor|Reviewed Overdue policy: no change needed|no"
    assert git(content_dir, "rev-parse", "HEAD~1").strip() == before
    text = (content_dir / "policies" / "overdue.md").read_text()
    assert "review_by: 2027-11-23" in text and "We reply quickly." in text
    assert git(content_dir, "status", "--porcelain") == ""
    assert "Overdue policy" not in client.get("/manage").get_data(as_text=True)


def test_reviewed_action_needs_an_editor(dated, client, auth):
    assert client.post("/manage/reviewed/policies/overdue").status_code == 302  # to sign in
    auth.login("agent")
    assert client.post("/manage/reviewed/policies/overdue").status_code == 403
    auth.logout()
    auth.login("editor")
    assert client.post("/manage/reviewed/policies/missing").status_code == 404


@pytest.mark.parametrize("text, expected", [
    ("---\ntitle: A\nreview_by: 2020-01-01\n---\nBody\n",
     "---\ntitle: A\nreview_by: 2027-01-31\n---\nBody\n"),
    ("---\ntitle: A\n---\nBody\n", "---\ntitle: A\nreview_by: 2027-01-31\n---\nBody\n"),
    ("# Plain\n", "---\nreview_by: 2027-01-31\n---\n# Plain\n"),
])
def test_set_review_by(text, expected):
    import datetime as dt

    from app.lifecycle.dashboard import set_review_by

    assert set_review_by(text, dt.date(2027, 1, 31)) == expected


def test_preview_returns_clarity_findings(client, auth):
    auth.login("editor")
    res = client.post("/preview", data={"body": "We reply quickly.", "audience": "public"})
    findings = res.get_json()["findings"]
    assert [f["rule"] for f in findings] == ["vague"]
    assert findings[0]["excerpt"] == "We reply quickly."
    precise = client.post("/preview", data={"body": "We reply within 24 hours."})
    assert precise.get_json()["findings"] == []


def test_new_document_prefilled_from_a_search(client, auth):
    auth.login("editor")
    page = client.get("/new?title=gift%20wrapping").get_data(as_text=True)
    assert 'value="gift wrapping"' in page
