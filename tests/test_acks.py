"""Acknowledgements: material vs cosmetic changes, the to-read list, the report and CSV."""

import csv
import io

from app.content.store import store
from app.db import connect
from app.lifecycle.acks import acknowledge, pending_for, report
from tests.conftest import CANARY_TITLE, git


def commit(content_dir, rel, text, message):
    (content_dir / rel).write_text(text)
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", message)
    return git(content_dir, "rev-parse", "HEAD").strip()


REFUNDS = "---\ntitle: Refunds\naudience: public\n---\nYou have {} days.\n"


def test_material_change_asks_everyone_cosmetic_does_not(app, content_dir):
    with app.app_context():
        db = connect(app.config["DATABASE"])
        assert pending_for(db, 1) == []  # the import was not material
        commit(content_dir, "policies/refunds.md", REFUNDS.format(30), "Typo\n\nMaterial: no")
        assert pending_for(db, 1) == []
        sha = commit(content_dir, "policies/refunds.md", REFUNDS.format(60),
                     "Longer window\n\nMaterial: yes")
        pending = pending_for(db, 1)
        assert [(p.doc.slug, p.change.sha, p.last_acked) for p in pending] == [
            ("refunds", sha, None)]
        doc = store().get("policy", "refunds")
        assert acknowledge(db, user_id=1, doc=doc, rev=sha)
        assert pending_for(db, 1) == []
        commit(content_dir, "policies/refunds.md", REFUNDS.format(61), "Typo\n\nMaterial: no")
        assert pending_for(db, 1) == [], "cosmetic edits do not ask anyone to re-read"
        newer = commit(content_dir, "policies/refunds.md", REFUNDS.format(90),
                       "Again\n\nMaterial: yes")
        assert [(p.change.sha, p.last_acked) for p in pending_for(db, 1)] == [(newer, sha)]
        assert not acknowledge(db, user_id=1, doc=doc, rev=sha), "stale revision refused"


def test_report_and_csv(app, content_dir, client, auth):
    sha = commit(content_dir, "policies/refunds.md", REFUNDS.format(60), "x\n\nMaterial: yes")
    auth.login("agent")
    page = client.get("/to-read").get_data(as_text=True)
    assert "Refunds" in page and "not read yet" in page
    assert '<span class="count"' in client.get("/").get_data(as_text=True)
    res = client.post("/acknowledge/policies/refunds", data={"rev": sha, "next": "to-read"})
    assert res.status_code == 302 and res.headers["Location"] == "/to-read"
    assert "You are up to date" in client.get("/to-read").get_data(as_text=True)
    with app.app_context():
        rep = report(connect(app.config["DATABASE"]), store().get("policy", "refunds"))
        assert (rep.done, len(rep.rows), rep.percent) == (1, 3, 33)
    auth.logout()
    auth.login("editor")
    html = client.get("/acks/policies/refunds").get_data(as_text=True)
    assert "1 of 3" in html and "33%" in html
    res = client.get("/acks/policies/refunds?format=csv")
    assert res.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    assert {r["username"]: bool(r["acknowledged_at"]) for r in rows} == {
        "agent": True, "editor": False, "admin": False}
    assert {r["revision"] for r in rows} == {sha}


def test_banner_on_document_and_stale_ack(content_dir, client, auth):
    first = commit(content_dir, "policies/refunds.md", REFUNDS.format(60), "x\n\nMaterial: yes")
    auth.login("agent")
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert "I have read this" in page and first in page
    commit(content_dir, "policies/refunds.md", REFUNDS.format(70), "y\n\nMaterial: yes")
    client.post("/acknowledge/policies/refunds", data={"rev": first})
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert "changed again while you were reading" in page
    assert "I have read this" in page


def test_bad_input(client, auth):
    auth.login("agent")
    for rev in ("HEAD", "--all", "x" * 41, ""):
        res = client.post("/acknowledge/policies/refunds", data={"rev": rev})
        assert res.status_code == 302
    assert client.post("/acknowledge/nope/refunds", data={"rev": "abcdef1"}).status_code == 404
    assert client.get("/acks/policies/refunds").status_code == 403  # agents: no report


def test_nothing_visible_anonymously(content_dir, client):
    commit(content_dir, "policies/escalation.md", "---\ntitle: " + CANARY_TITLE + "\n---\nx",
           "z\n\nMaterial: yes")
    for url in ("/to-read", "/acks/policies/escalation", "/acks/policies/escalation?format=csv"):
        res = client.get(url)
        assert res.status_code == 302 and "/login" in res.headers["Location"]
    assert client.post("/acknowledge/policies/escalation", data={"rev": "abcdef1"}
                       ).status_code in (302, 401)
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert "I have read this" not in page and "To read" not in page


def test_what_changed_since_last_acknowledged(content_dir, client, auth):
    first = commit(content_dir, "policies/refunds.md", REFUNDS.format(60), "a\n\nMaterial: yes")
    auth.login("agent")
    client.post("/acknowledge/policies/refunds", data={"rev": first})
    second = commit(content_dir, "policies/refunds.md", REFUNDS.format(90), "b\n\nMaterial: yes")
    page = client.get("/to-read").get_data(as_text=True)
    link = f"/diff/policies/refunds?to={second}&amp;from={first}"
    assert link in page and "since you last confirmed" in page
    diff = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "60" in diff and "90" in diff
