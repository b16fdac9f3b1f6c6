"""Feedback: anonymous, CSRF-protected, rate-limited, public pages only."""


import pytest

from app import create_app
from app.db import connect
from app.lifecycle.feedback import recent_comments, record, summaries


def test_record_and_summarise(app):
    db = connect(app.config["DATABASE"])
    record(db, kind="policy", slug="refunds", helpful=True)
    record(db, kind="policy", slug="refunds", helpful=False, comment="  Too   long!  " + "x" * 600)
    summary = summaries(db)[("policy", "refunds")]
    assert (summary.yes, summary.no, summary.helpful_percent) == (1, 1, 50)
    comment = recent_comments(db)[0]["comment"]
    assert comment.startswith("Too long! x") and len(comment) == 500


def test_public_page_shows_form_and_records(client, app):
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert 'id="feedback"' in page and 'name="helpful"' in page
    res = client.post("/feedback/policies/refunds", data={"helpful": "no", "comment": "Unclear"})
    assert res.status_code == 302 and res.headers["Location"].endswith("/policies/refunds#feedback")
    assert "Thank you for your feedback" in client.get("/policies/refunds").get_data(as_text=True)
    db = connect(app.config["DATABASE"])
    row = db.execute("SELECT * FROM feedback").fetchone()
    assert (row["kind"], row["slug"], row["helpful"], row["comment"]) == (
        "policy", "refunds", 0, "Unclear")
    assert set(row.keys()) == {"id", "created_at", "kind", "slug", "helpful", "comment"}


@pytest.mark.parametrize("url", ["/feedback/policies/escalation", "/feedback/faq/agents/log-credit",
                                 "/feedback/policies/..%2fx", "/feedback/other/refunds",
                                 "/feedback/policies/missing"])
def test_no_feedback_on_internal_or_missing_documents(client, url):
    assert client.post(url, data={"helpful": "yes"}).status_code == 404


def test_invalid_vote_is_explained(client, app):
    res = client.post("/feedback/faq/track-order", data={"helpful": "maybe"})
    assert res.status_code == 302
    assert "Choose Yes or No" in client.get("/faq/track-order").get_data(as_text=True)
    db = connect(app.config["DATABASE"])
    assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0


def test_internal_page_has_no_feedback_form(client, auth):
    auth.login()
    assert 'id="feedback"' not in client.get("/policies/escalation").get_data(as_text=True)


@pytest.fixture
def strict_client(tmp_path, content_dir):
    app = create_app({"TESTING": True, "SECRET_KEY": "s" * 32, "KB_DATA_DIR": str(tmp_path / "f"),
                      "KB_CONTENT_DIR": str(content_dir), "KB_FEEDBACK_LIMIT": "2 per hour"})
    return app.test_client()


def test_feedback_requires_csrf_and_is_throttled(strict_client):
    assert strict_client.post("/feedback/policies/refunds",
                              data={"helpful": "yes"}).status_code == 400
    token = strict_client.get("/api/csrf-token").get_json()["token"]  # what site.js fetches
    for _ in range(2):
        res = strict_client.post("/feedback/policies/refunds",
                                 data={"helpful": "yes", "csrf_token": token})
        assert res.status_code == 302
    res = strict_client.post("/feedback/policies/refunds",
                             data={"helpful": "yes", "csrf_token": token})
    assert res.status_code == 429
