"""Editing over HTTP: the form, 409 with merge, validation, preview, permissions, concurrency."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import threading

import pytest

from app import create_app
from tests.conftest import PASSWORD, make_repo
from tests.history_helpers import commit, git_out

REFUNDS = "policies/refunds.md"


def form_of(page: str) -> dict:
    """The editor form's fields as a browser would submit them."""
    page = re.search(r'<form method="post" class="editor".*?</form>', page, re.S).group(0)
    fields = dict(re.findall(r'<input (?:type="hidden" )?name="(\w+)" value="([^"]*)"', page))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    for name, value in re.findall(r'<select name="(\w+)">.*?<option value="(\w+)" selected',
                                  page, re.S):
        fields[name] = value
    body = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', page, re.S)
    fields["body"] = html.unescape(body.group(1)) if body else ""
    if 'name="material" value="yes" checked' in page:
        fields["material"] = "yes"
    return fields


@pytest.mark.parametrize(("user", "status"), [(None, 404), ("agent", 403), ("editor", 200),
                                              ("admin", 200)])
def test_edit_permissions(client, auth, user, status):
    if user:
        auth.login(user)
    assert client.get("/edit/policies/refunds").status_code == status
    assert client.post("/preview", data={"body": "x"}).status_code == status
    assert client.get("/new").status_code == status


def test_document_page_links(client, auth):
    auth.login("editor")
    page = client.get("/policies/refunds").text
    assert 'href="/edit/policies/refunds"' in page and 'href="/history/policies/refunds"' in page
    auth.logout()
    auth.login("agent")
    page = client.get("/policies/refunds").text
    assert "/edit/" not in page and 'href="/history/policies/refunds"' in page


def test_edit_and_save(client, auth, content_dir):
    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    assert fields["message"] == "Update Refunds" and fields["audience"] == "public"
    assert fields["tags"] == "money, orders" and fields["effective"] == "2026-01-01"
    fields.update(body=fields["body"].replace("most orders", "nearly all orders"),
                  public_note="Clearer", material="yes")
    res = client.post("/edit/policies/refunds", data=fields)
    # A change to what customers read is a proposal (tests/test_proposals_http.py): one commit
    # on its branch, the fields kept as they were.
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1"
    branch = "proposals/1-update-refunds"
    text = git_out(content_dir, "show", f"{branch}:{REFUNDS}")
    assert "nearly all orders" in text and "owner: refunds@example.com" in text
    assert "effective: 2026-01-01" in text
    assert git_out(content_dir, "log", "-1", "--format=%an %s %(trailers:key=Material)",
                   branch).startswith("editor Update Refunds Material: yes")


def test_stale_form_gets_409_with_merge(client, auth, content_dir):
    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    commit(content_dir, {REFUNDS: (content_dir / REFUNDS).read_text().replace(
        "30 days of delivery", "45 days of delivery")}, "Theirs")
    fields["body"] = fields["body"].replace("most orders", "nearly all orders")
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 409
    assert "do not overlap" in res.text and "Theirs (now current)" in res.text
    merged = form_of(res.text)
    assert "45 days" in merged["body"] and "nearly all orders" in merged["body"]
    assert client.post("/edit/policies/refunds", data=merged).status_code == 303  # proposal
    text = git_out(content_dir, "show", f"proposals/1-update-refunds:{REFUNDS}")
    assert "45 days" in text and "nearly all orders" in text


def test_validation_error_keeps_text(client, auth, content_dir):
    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    before = git_out(content_dir, "rev-parse", "HEAD")
    fields.update(effective="next week", body="My long careful text.", message="")
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 400
    assert "My long careful text." in res.text and "effective must be a date" in res.text
    assert "commit message" in res.text
    assert git_out(content_dir, "rev-parse", "HEAD") == before


def test_git_failure_is_a_clear_503_not_a_500(client, auth, content_dir, monkeypatch):
    from app.repo.gitrepo import GitError, GitRepo

    def broken(*args, **kwargs):
        raise GitError("git write-tree failed: disk full")

    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    fields["body"] += "\nMy addition.\n"
    monkeypatch.setattr(GitRepo, "make_commit", broken)
    res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 503
    assert "nothing was saved" in res.text and "My addition." in res.text
    assert "disk full" not in res.text


def test_stuck_write_lock_is_a_clear_503_and_keeps_the_text(app, client, auth, content_dir,
                                                             monkeypatch):
    """A process holding the write lock past the timeout: the save answers 503 with the
    reason and the user's text, nothing is committed, and the next save works."""
    import functools
    from pathlib import Path

    from app.editing import save as editing
    from tests.faults import held_flock

    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    fields["body"] += "\nWaiting text.\n"
    before = git_out(content_dir, "rev-parse", "HEAD")
    monkeypatch.setattr(editing, "write_lock",
                        functools.partial(editing.write_lock, timeout=0.3))
    with held_flock(Path(app.config["KB_DATA_DIR"]) / "write.lock"):
        res = client.post("/edit/policies/refunds", data=fields)
    assert res.status_code == 503
    assert "taking too long" in res.text and "Waiting text." in res.text
    assert git_out(content_dir, "rev-parse", "HEAD") == before
    assert client.post("/edit/policies/refunds", data=fields).status_code == 303  # proposal


def test_new_document(client, auth, content_dir):
    auth.login("editor")
    fields = form_of(client.get("/new").text)
    fields.update(kind="faq", slug="gift-cards", title="Gift cards?", audience="public",
                  body="Yes, we sell them.", tags="gifts")
    res = client.post("/new", data=fields)
    # A new public document needs approval; an internal one is created at once.
    assert res.status_code == 303 and res.headers["Location"] == "/proposals/1"
    assert client.get("/faq/gift-cards").status_code == 404
    fields.update(slug="gift-cards-internal", audience="internal")
    res = client.post("/new", data=fields)
    assert res.status_code == 302 and res.headers["Location"] == "/faq/gift-cards-internal"
    assert "Yes, we sell them." in client.get("/faq/gift-cards-internal").text
    again = client.post("/new", data=fields)
    assert again.status_code == 400 and "already exists" in again.text


def test_preview_marks_internal_blocks(client, auth):
    auth.login("editor")
    res = client.post("/preview", data={"body": "Hi\n\n::: internal\nSecret\n:::\n<script>x"})
    assert res.status_code == 200
    assert "Agents only" in res.json["html"] and "<script" not in res.json["html"]


def test_restore_rename_delete_over_http(client, auth, content_dir):
    # An internal document: these publish at once (a public one makes a proposal, see
    # tests/test_proposals_http.py).
    esc = "policies/escalation.md"
    first = git_out(content_dir, "rev-parse", "HEAD").strip()
    commit(content_dir, {esc: (content_dir / esc).read_text().replace("4 hours", "9 hours")},
           "Bad")
    auth.login("editor")
    assert "Restore" in client.get("/history/policies/escalation").text
    res = client.post("/restore/policies/escalation", data={"rev": first, "message": "Undo"})
    assert res.status_code == 303 and "4 hours" in (content_dir / esc).read_text()
    bad = client.post("/restore/policies/escalation", data={"rev": "HEAD~2", "message": "x"},
                      follow_redirects=True)
    assert "Not done" in bad.text
    client.post("/rename/policies/escalation", data={"new_slug": "tiers", "message": "Rn"})
    assert client.get("/policies/tiers").status_code == 200
    client.post("/delete/policies/tiers", data={"message": "Gone"})
    assert client.get("/policies/tiers").status_code == 404
    assert "Gone" in client.get("/history/policies/tiers").text


def test_csrf_required(tmp_path, content_dir):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32, "KB_DATA_DIR": str(tmp_path / "d"),
                      "KB_CONTENT_DIR": str(content_dir), "RATELIMIT_ENABLED": False})
    client = app.test_client()
    for url in ("/preview", "/edit/policies/refunds", "/restore/policies/refunds", "/new"):
        assert client.post(url, data={"body": "x"}).status_code == 400


# -- 20 concurrent saves against a multi-worker gunicorn -------------------------------------
@pytest.mark.slow
def test_twenty_concurrent_saves_lose_nothing(tmp_path):
    from tests.live import LiveClient, LiveServer

    lines = "\n".join(f"Line {i}: original." for i in range(20))
    content = make_repo(tmp_path / "content", {
        REFUNDS: f"---\ntitle: Refunds\naudience: internal\n---\n{lines}\n"})  # no approval
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi",
                    "users", "add", "editor", "--role", "editor", "--password", PASSWORD],
                   env={**os.environ, "KB_DATA_DIR": str(data),
                        "KB_CONTENT_DIR": str(content),
                        "SECRET_KEY": "live-test-secret-key-0123456789abcdef"},
                   check=True, capture_output=True)
    results: dict[int, list[int]] = {}
    with LiveServer(data, content, workers=3, threads=4) as server:
        # Redirects followed, as a browser does: a save ends on the document page (200).
        browsers = [LiveClient(server.url, follow_redirects=True, timeout=60)
                    for _ in range(20)]
        for browser in browsers:
            browser.login("editor")
        forms = [form_of(b.request("/edit/policies/refunds")[1]) for b in browsers]
        start = threading.Barrier(20)

        def save(i: int) -> None:
            fields = dict(forms[i], message=f"Edit line {i}")
            fields["body"] = fields["body"].replace(f"Line {i}: original.", f"Line {i}: by {i}.")
            start.wait()
            statuses = []
            for _ in range(30):  # on 409, save the merged form, as an editor would
                status, page = browsers[i].request("/edit/policies/refunds", fields)
                statuses.append(status)
                if status != 409:
                    break
                fields = dict(form_of(page), message=f"Edit line {i}")
            results[i] = statuses

        threads = [threading.Thread(target=save, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    statuses = [s for r in results.values() for s in r]
    assert len(results) == 20 and all(r[-1] == 200 for r in results.values()), results
    assert set(statuses) == {200, 409}  # redirects followed to the page; never a 5xx
    assert len(statuses) - 20 == statuses.count(409)  # each 409 answered by one more save
    final = (content / REFUNDS).read_text()
    assert all(f"Line {i}: by {i}." in final for i in range(20))
    subjects = git_out(content, "log", "--format=%s").splitlines()
    assert sorted(s for s in subjects if s.startswith("Edit line")) == sorted(
        f"Edit line {i}" for i in range(20))
    assert subprocess.run(["git", "-C", str(content), "fsck"]).returncode == 0
    assert git_out(content, "status", "--porcelain") == ""


def test_editing_a_broken_document_says_so(client, auth, content_dir):
    commit(content_dir, {REFUNDS: "---\ntitle: [broken\n---\nBody kept.\n"}, "Break")
    auth.login("editor")
    page = client.get("/edit/policies/refunds").text
    assert "The stored version has problems." in page and "not valid YAML" in page
    assert form_of(page)["body"] == "Body kept.\n"


def test_an_agents_only_admonition_is_hidden_and_the_editor_is_warned(app, client, auth,
                                                                     content_dir):
    """``!!! agents-only`` looks like the callout but is not the rule: it is hidden from
    customers anyway, the editor says so (form and after saving), and kb check reports it."""
    auth.login("editor")
    fields = form_of(client.get("/edit/policies/refunds").text)
    fields["body"] += '\n!!! agents-only "Agents only"\n    Spoofed secret note.\n'
    res = client.post("/edit/policies/refunds", data=fields, follow_redirects=True)
    assert res.status_code == 200 and "does not hide text" in res.text
    form = client.get("/edit/policies/refunds").text
    assert "Check how this text is hidden" in form and "::: internal" in form
    assert 'class="admonition agents-only"' in client.get("/policies/refunds").text
    preview = client.post("/preview", data={"body": fields["body"]}).get_json()
    assert any(f["rule"] == "agents-only" for f in preview["findings"])
    auth.logout()
    page = client.get("/policies/refunds").text
    assert "Spoofed secret note." not in page and "agents-only" not in page
    result = app.test_cli_runner().invoke(args=["kb", "check"])
    assert result.exit_code == 1
    assert any(line.startswith("policies/refunds.md:") and "does not hide text" in line
               for line in result.output.splitlines())
