"""Templates and static files comply with the CSP: no inline script, style or handler."""

import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent  # templates/ and static/ at the root
TEMPLATES = sorted((APP / "templates").rglob("*.html")) + sorted((APP / "templates").rglob("*.xml"))
STATIC_JS = sorted((APP / "static").rglob("*.js"))

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script> (use static/js)"),
    (re.compile(r"<style\b", re.I), "<style> element (use static/css)"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_has_nothing_inline(path):
    text = path.read_text()
    for pattern, what in INLINE:
        assert not pattern.search(text), f"{path.name}: {what}"


@pytest.mark.parametrize("path", STATIC_JS, ids=lambda p: p.name)
def test_scripts_need_no_unsafe_eval(path):
    text = path.read_text()
    assert not re.search(r"\beval\(|new Function\(|setTimeout\(\s*['\"]", text)
    assert ".innerHTML" not in text or "// sanitized:" in text


def test_rendered_pages_comply(client, auth):
    auth.login()
    for url in ("/", "/policies/refunds", "/policies/escalation", "/login", "/nope"):
        html = client.get(url).get_data(as_text=True)
        for pattern, what in INLINE:
            assert not pattern.search(html), f"{url}: {what}"
