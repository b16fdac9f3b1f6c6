"""The editor page's markup: a per-response style nonce, date inputs, the audience note."""

from __future__ import annotations

import re

from tests.conftest import git


def nonce_of(res) -> tuple[str, str]:
    csp = res.headers["Content-Security-Policy"]
    header = re.search(r"style-src 'self' 'nonce-([\w-]+)';", csp).group(1)
    meta = re.search(r'<meta name="csp-nonce" nonce="([\w-]+)">', res.get_data(as_text=True))
    return header, meta.group(1)


def test_editor_gets_a_fresh_style_nonce_and_nothing_else_does(client, auth):
    auth.login("editor")
    first, second = client.get("/edit/policies/refunds"), client.get("/new")
    header, meta = nonce_of(first)
    assert header == meta and len(header) >= 16
    assert nonce_of(second)[0] != header  # one per response
    csp = first.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "script-src 'self';" in csp  # scripts: no nonce
    for url in ("/", "/policies/refunds", "/manage"):
        assert "nonce" not in client.get(url).headers["Content-Security-Policy"], url


def test_dates_are_date_inputs_unless_the_stored_value_is_not_a_date(client, auth, content_dir):
    auth.login("editor")
    html = client.get("/edit/policies/refunds").get_data(as_text=True)
    assert '<input name="effective" value="2026-01-01" type="date">' in html
    assert '<input name="review_by" value="2027-01-01" type="date">' in html
    text = (content_dir / "policies/refunds.md").read_text()
    (content_dir / "policies/refunds.md").write_text(
        text.replace("review_by: 2027-01-01", "review_by: next spring"))
    git(content_dir, "commit", "-qam", "A review date that is not a date")
    html = client.get("/edit/policies/refunds").get_data(as_text=True)
    # A date input would show (and save) nothing: the text stays editable instead.
    assert '<input name="review_by" value="next spring" placeholder="YYYY-MM-DD">' in html


def test_audience_note_says_who_will_see_the_page(client, auth):
    auth.login("editor")
    public = client.get("/edit/policies/refunds").get_data(as_text=True)
    assert re.search(r'id="audience-note"[^>]*>Customers will see this page', public)
    internal = client.get("/edit/policies/escalation").get_data(as_text=True)
    assert re.search(r'id="audience-note"[^>]*>Customers will not see this page', internal)
