"""Reading over HTTP: anonymous visitors, staff, and the customer preview."""

import pytest

from tests.conftest import CANARY_BLOCK, CANARY_DOC, CANARY_TITLE, git, make_repo

CANARIES = (CANARY_BLOCK, CANARY_DOC, CANARY_TITLE, "Handbook page", "How do I log a credit")


def assert_no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} leaked"


def test_home_lists_only_public_documents(client):
    page = client.get("/").get_data(as_text=True)
    assert "Refunds" in page and "How do I track my order?" in page
    assert_no_canary(page)


def test_public_page_strips_internal_blocks(client):
    res = client.get("/policies/refunds")
    page = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "within 30 days of delivery" in page
    assert 'id="sec-refund-window"' in page
    assert_no_canary(page)
    assert "refunds@example.com" not in page, "owner is staff-only"


@pytest.mark.parametrize("url", ["/policies/escalation", "/policies/no-front-matter",
                                 "/faq/agents/log-credit"])
def test_internal_documents_are_404_anonymously(client, url):
    res = client.get(url)
    assert res.status_code == 404
    assert_no_canary(res.get_data(as_text=True))


@pytest.mark.parametrize("url", [
    "/policies/..", "/policies/../faq/track-order", "/policies/%2e%2e/secret",
    "/policies/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/policies/a%00b", "/policies/a%5cb",
    "/policies/.git/config", "/faq/refunds.md", "/policies/" + "a" * 300,
    "/policies/refunds/", "/policies/%C0%AE%C0%AE",
])
def test_bad_slugs_are_404(client, url):
    res = client.get(url)
    assert res.status_code in (404, 308)
    assert "Traceback" not in res.get_data(as_text=True)


def test_staff_see_internal_documents_and_blocks(client, auth):
    auth.login()
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert CANARY_BLOCK in page and "Agents only" in page
    assert client.get("/policies/escalation").status_code == 200
    assert CANARY_TITLE in client.get("/").get_data(as_text=True)


def test_view_as_customer_matches_anonymous(client, auth, app):
    anonymous = app.test_client().get("/policies/refunds").get_data(as_text=True)
    auth.login()
    preview = client.get("/policies/refunds?as=customer").get_data(as_text=True)
    assert CANARY_BLOCK not in preview
    start = anonymous.index('<div class="content">')
    end = anonymous.index('<section id="feedback"')
    assert anonymous[start:end] in preview
    res = client.get("/policies/escalation?as=customer")
    assert res.status_code == 404


def test_as_customer_parameter_is_ignored_for_anonymous(client):
    assert client.get("/policies/escalation?as=staff").status_code == 404


def test_sitemap_has_public_pages_only(client):
    xml = client.get("/sitemap.xml").get_data(as_text=True)
    assert "/policies/refunds" in xml and "/faq/track-order" in xml
    assert "escalation" not in xml and "log-credit" not in xml and "no-front-matter" not in xml


def test_healthz(client):
    res = client.get("/healthz")
    assert res.status_code == 200 and res.get_json()["status"] == "ok"


def test_error_pages_do_not_leak_or_trace(client):
    res = client.get("/policies/escalation")
    body = res.get_data(as_text=True)
    assert "Page not found" in body
    assert_no_canary(body)


def test_print_footer_has_url_and_version(client):
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert 'class="print-only"' in page and "version as of" in page
    assert "/policies/refunds" in page


def test_security_headers(client):
    res = client.get("/policies/refunds")
    csp = res.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert res.headers["X-Content-Type-Options"] == "nosniff"


def test_malformed_document_shows_editors_the_problem(client, auth, content_dir):
    (content_dir / "policies" / "broken.md").write_text(
        "---\ntitle: [oops\naudience: public\n---\nBroken body\n")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "Broken")
    assert client.get("/policies/broken").status_code == 404
    assert client.get("/").status_code == 200  # the site stays up
    auth.login("editor")
    page = client.get("/policies/broken").get_data(as_text=True)
    assert "policies/broken.md:3" in page and "not valid YAML" in page


def test_binary_and_huge_files_keep_the_site_up(client, auth, content_dir):
    (content_dir / "policies" / "binary.md").write_bytes(b"\x00\x01\x02\xff" * 100)
    (content_dir / "policies" / "huge.md").write_bytes(b"---\naudience: public\n---\n"
                                                      + b"word " * 1_100_000)
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "Odd files")
    assert client.get("/").status_code == 200
    assert client.get("/policies/binary").status_code == 404
    assert client.get("/policies/huge").status_code == 404
    auth.login()
    assert "binary file" in client.get("/policies/binary").get_data(as_text=True)
    assert "limit" in client.get("/policies/huge").get_data(as_text=True)


def test_handbook_without_front_matter(tmp_path):
    from app import create_app

    files = {f"team/page-{i}.md": f"# Page {i}\n\nText {i}.\n" for i in range(30)}
    root = make_repo(tmp_path / "handbook", files)
    app = create_app({"TESTING": True, "KB_DATA_DIR": str(tmp_path / "d"),
                      "KB_CONTENT_DIR": str(root), "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/policies/team/page-3").status_code == 404  # internal by default
    from app.accounts.auth import add_user
    from app.db import connect

    add_user(connect(app.config["DATABASE"]), "agent", "long enough password", "agent")
    client.post("/login", data={"username": "agent", "password": "long enough password"})
    page = client.get("/policies/team/page-3").get_data(as_text=True)
    assert "<h1>Page 3</h1>" in page
    assert page.count("Page 3</h1>") == 1, "the heading that gave the title is not repeated"
    assert "Page 29" in client.get("/").get_data(as_text=True)
    assert not (root / ".portal").exists()
    assert "nothing to commit" in __import__("subprocess").run(
        ["git", "-C", str(root), "status"], capture_output=True, text=True).stdout


def test_index_pages_filter_and_hide_internal(client, auth):
    page = client.get("/faq/").get_data(as_text=True)
    assert "How do I track my order?" in page
    assert_no_canary(page)
    tagged = client.get("/faq/?tag=orders").get_data(as_text=True)
    assert "How do I track my order?" in tagged
    assert "How do I track" not in client.get("/faq/?tag=money").get_data(as_text=True)
    assert client.get("/policies/?page=1&tag=%00").status_code == 200
    # only the pages the list links to exist (issue 12, item 11)
    for beyond in ("999", "2", "0", "-3"):
        assert client.get(f"/policies/?page={beyond}").status_code == 404, beyond
    auth.login()
    assert "How do I log a credit?" in client.get("/faq/").get_data(as_text=True)


def test_large_catalogue_home_is_capped_and_paginated(tmp_path):
    from app import create_app

    files = {f"policies/p-{i:04d}.md": f"---\ntitle: Policy {i:04d}\naudience: public\n---\nx\n"
             for i in range(250)}
    root = make_repo(tmp_path / "big", files)
    client = create_app({"TESTING": True, "KB_DATA_DIR": str(tmp_path / "d"),
                         "KB_CONTENT_DIR": str(root)}).test_client()
    home = client.get("/").get_data(as_text=True)
    assert home.count('href="/policies/p-') == 40 and "All 250 policies" in home
    second = client.get("/policies/?page=2").get_data(as_text=True)
    assert "Policy 0100" in second and "Policy 0099" not in second
    assert "Page 2 of 3" in second
    last = client.get("/policies/?page=3").get_data(as_text=True)
    assert "Policy 0249" in last and 'rel="next"' not in last
    assert client.get("/policies/?page=4").status_code == 404


def test_the_print_line_follows_only_public_changes(client, content_dir):
    """Customers' "version as of" line names the last commit that changed what they read,
    carried across later commits (internal-only ones, commits elsewhere, public edits)."""
    import re

    from tests.history_helpers import commit

    line = re.compile(r"version as of \S+ \(([0-9a-f]{8})\)")

    def printed() -> str:
        return line.search(client.get("/policies/refunds").text).group(1)

    refunds = content_dir / "policies" / "refunds.md"
    first = git(content_dir, "rev-parse", "HEAD").strip()
    assert printed() == first[:8]
    commit(content_dir, {"policies/refunds.md": refunds.read_text().replace(
        "up to $25", "up to $30")}, "Internal only")
    assert printed() == first[:8]
    public = commit(content_dir, {"policies/refunds.md": refunds.read_text().replace(
        "We refund most orders.", "We refund nearly every order.")}, "Public wording")
    assert printed() == public[:8]
    commit(content_dir, {"faq/track-order.md": "---\naudience: public\n---\nElsewhere.\n",
                         "policies/refunds.md": refunds.read_text().replace(
                             "up to $30", "up to $35")}, "Both: internal text and elsewhere")
    commit(content_dir, {"policies/refunds.md": refunds.read_text().replace(
        "up to $35", "up to $40") + "\n::: internal\nAnother note.\n:::\n"}, "Internal again")
    assert printed() == public[:8]
