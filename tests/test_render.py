"""Rendering and sanitizing: features work, and nothing an author writes can run script."""

from html.parser import HTMLParser

import pytest

from app.caching import sharedfiles
from app.caching.lru import SizedLRU
from app.content import render as render_module
from app.content.render import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    CLASS_PATTERNS,
    CLASSES,
    ID_PREFIX,
    SCROLLER,
    render,
    safe_url,
    sanitize,
)
from tests.xss_vectors import VECTORS


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def assert_safe(html: str) -> None:
    parser = _Collector()
    parser.feed(html)
    for tag, attrs in parser.elements:
        scroller = tag == "div" and attrs.get("class") == "table-scroll"  # added after nh3
        for name in (attrs.get("class") or "").split():  # the renderer's own classes only
            assert scroller or name in CLASSES.get(tag, ()) or (
                tag in CLASS_PATTERNS and CLASS_PATTERNS[tag].fullmatch(name)), \
                f"class {name} on {tag}"
        assert tag in ALLOWED_TAGS, f"tag {tag} escaped the allow-list"
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}
        if tag == "div" and attrs.get("class") == "table-scroll":  # added after sanitizing
            assert attrs == {"class": "table-scroll", "role": "region", "tabindex": "0",
                             "aria-label": "Table, scrolls sideways"}
            continue
        for name, value in attrs.items():
            assert name in allowed, f"attribute {name} on {tag}"
            assert not name.startswith("on")
            if name in ("href", "src"):
                assert safe_url(value or "") is not None, f"unsafe URL {value!r}"
            if name == "id":
                assert value.startswith(ID_PREFIX)


@pytest.mark.parametrize("payload", VECTORS)
def test_xss_vectors_are_neutralised(payload):
    html = render(f"Before\n\n{payload}\n\nAfter").html
    assert_safe(html)
    assert "<script" not in html.lower()


def test_only_internal_blocks_make_the_agents_only_callout():
    """``::: internal`` (projected for staff) makes the callout; an author's admonition or
    raw HTML never does, for staff or customers, and customers never get the spoof's text."""
    from app.content.audience import project_body

    body = ("Public.\n\n::: internal\nReal note.\n:::\n\n"
            "!!! agents-only \"Agents only\"\n    Spoofed note.\n\n"
            "<div class=\"admonition agents-only\">Raw note.</div>\n")
    staff = render(project_body(body, sees_internal=True)).html
    public = render(project_body(body, sees_internal=False)).html
    assert staff.count('class="admonition agents-only"') == 2  # the real one and the spoof,
    assert "Spoofed note." in staff and "Real note." in staff  # both hidden from customers
    assert "agents-only" not in public and "Spoofed note." not in public
    assert "Real note." not in public and "Raw note." in public  # raw HTML: just a box


def test_vector_table_is_large_enough():
    assert len(VECTORS) >= 25


@pytest.mark.parametrize("url, ok", [
    ("https://example.com", True), ("http://x", True), ("mailto:a@b.c", True),
    ("#frag", True), ("/policies/refunds", True),
    ("javascript:alert(1)", False), ("java\u200bscript:alert(1)", False),
    ("JAVASCRIPT:x", False), ("vbscript:x", False), ("data:text/html,x", False),
    ("//evil.example", False), ("/\\evil.example", False), ("relative/path", False),
    ("\u0000javascript:x", False), (" javascript:x", False),
])
def test_safe_url(url, ok):
    assert (safe_url(url) is not None) is ok


def test_markdown_features():
    page = render("""## Steps

| Channel | Reply |
|---|---|
| Email | 24 hours |

Term
:   Definition

- [x] done

!!! note "Remember"
    Be kind.

```python
x = 1
```
""")
    html = page.html
    assert "<table>" in html and "<dl>" in html and 'type="checkbox"' in html
    assert 'class="admonition note"' in html and "<pre" in html
    assert f'id="{ID_PREFIX}steps"' in html and f'href="#{ID_PREFIX}steps"' in html
    assert page.toc == ((2, f"{ID_PREFIX}steps", "Steps"),)


def test_raw_html_does_not_execute_but_safe_markup_stays():
    html = render("<kbd>Ctrl</kbd> <b onclick=x>bold</b>").html
    assert "<kbd>Ctrl</kbd>" in html and "<b>bold</b>" in html and "onclick" not in html


def test_author_ids_are_prefixed():
    html = sanitize('<h2 id="q">x</h2><a href="#q">y</a>')
    assert f'id="{ID_PREFIX}q"' in html and f'href="#{ID_PREFIX}q"' in html


def test_render_is_cached():
    assert render("same text") is render("same text")


def test_duplicate_headings_get_unique_ids():
    from app.content.render import section_id

    page = render("## Fees\n\nx\n\n## Fees\n\ny")
    used: dict[str, int] = {}
    assert [i for _, i, _ in page.toc] == [section_id("Fees", used), section_id("Fees", used)]


# -- the render cache shared by workers ---------------------------------------------------------
@pytest.fixture
def shared(app, monkeypatch):
    """A fresh memory tier, as in another worker; the disk tier is the app's."""
    monkeypatch.setattr(render_module, "_cache", SizedLRU(max_bytes=1 << 20))
    return render_module._shared["root"]


def test_another_worker_reads_a_page_rendered_once(shared, monkeypatch):
    text = "# Title\n\n## Refund window\n\nThirty days.\n"
    first = render(text)
    assert list(shared.rglob("*")), "the rendered page was not shared"
    monkeypatch.setattr(render_module, "_cache", SizedLRU(max_bytes=1 << 20))  # another worker

    def must_not_render(_text):
        raise AssertionError("rendered again")

    monkeypatch.setattr(render_module, "_render", must_not_render)
    assert render(text) == first


def test_a_damaged_shared_entry_is_rendered_again(shared, monkeypatch):
    text = "Some *text* about refunds.\n"
    expected = render(text)
    for entry in shared.rglob("*"):
        if entry.is_file():
            entry.write_text('{"html": "<script>x</script>", "to')  # cut short
    monkeypatch.setattr(render_module, "_cache", SizedLRU(max_bytes=1 << 20))
    assert render(text) == expected


def test_a_tampered_shared_entry_is_not_served(shared, monkeypatch):
    """Entries are signed with the secret key: well-formed HTML written by someone without
    the key (or another entry's file copied over this one) is rendered again, not served."""
    import json

    text = "Plain words about refunds.\n"
    expected = render(text)
    other = render("Another page entirely.\n")
    entries = sorted((p for p in shared.rglob("*") if p.is_file()),
                     key=lambda p: p.stat().st_mtime_ns)
    first, second = entries[-2], entries[-1]
    signature, _, payload = first.read_bytes().partition(b"\n")
    assert json.loads(payload)["html"] == expected.html
    forged = json.dumps({"html": "<script>alert(1)</script>", "toc": []}).encode()
    first.write_bytes(signature + b"\n" + forged)  # the old signature, new content
    monkeypatch.setattr(render_module, "_cache", SizedLRU(max_bytes=1 << 20))  # another worker
    assert render(text) == expected and "<script>" not in render(text).html
    monkeypatch.setattr(render_module, "_cache", SizedLRU(max_bytes=1 << 20))
    first.write_bytes(second.read_bytes())  # a validly signed entry under another name
    assert render(text) == expected and render(text) != other


def test_old_shared_entries_are_pruned(shared):
    import os

    render("Old page.\n")
    entry = next(p for p in shared.rglob("*") if p.is_file())
    os.utime(entry, (1, 1))
    sharedfiles.prune(entry.parent, render_module.SHARED_DAYS * 86400)
    assert not entry.exists()


def test_an_unwritable_shared_cache_still_renders(shared, monkeypatch):
    blocked = shared.parent / "blocked"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setitem(render_module._shared, "root", blocked / "render")
    assert "<em>fine</em>" in render("*fine*\n").html


_TRICKY = ["plain only\n\nmore plain", "a  \nb", "x\\*y", "&copy; &#169;", "<http://x.y>",
           "<a@b.c>", "![i](x.png)", "[^1]\n\n[^1]: n", "`code`", "**b** _i_",
           "- [ ] task\n- [x] done", "| a | b |\n|---|---|\n| 1 | *2* |", "Term\n: def",
           "!!! note\n    body *x*", "```\ncode * _\n```", "<div>raw</div>\n\ntext",
           "line one\nline two", "[ref]\n\n[ref]: http://x.y", "## Head *x*\n\ntext"]


def _plain_markdown():
    import markdown

    return markdown.Markdown(extensions=render_module._EXTENSIONS,
                             extension_configs=render_module._EXTENSION_CONFIGS)


def test_the_plain_text_shortcut_changes_no_output():
    """Text with no character any inline pattern needs is left alone without trying them:
    the HTML must be what Python-Markdown makes on its own, for every kind of input."""
    from pathlib import Path

    from tests.conftest import FIXTURE_DOCS

    texts = [p.read_text() for p in Path("content").rglob("*.md")]
    texts += [str(v[0]) if isinstance(v, tuple) else str(v) for v in VECTORS]
    texts += [*FIXTURE_DOCS.values(), *_TRICKY]
    quick, plain = render_module._markdown(), _plain_markdown()
    assert type(quick.treeprocessors["inline"]).__name__ == "_PlainTextShortcut"
    for text in texts:
        quick.reset()
        plain.reset()
        assert quick.convert(text) == plain.convert(text), text[:80]
        assert quick.toc_tokens == plain.toc_tokens


def test_the_shortcut_stays_off_when_another_inline_pattern_is_added():
    from markdown.inlinepatterns import SimpleTagInlineProcessor

    md = _plain_markdown()
    md.inlinePatterns.register(SimpleTagInlineProcessor(r"(~~)(.+?)~~", "del"), "del", 5)
    render_module._skip_plain_text(md)
    assert type(md.treeprocessors["inline"]).__name__ == "InlineProcessor"
    assert md.convert("a ~~b~~ c") == "<p>a <del>b</del> c</p>"


def test_tables_scroll_inside_a_region_authors_cannot_forge():
    html = render("| a | b |\n|---|---|\n| 1 | 2 |\n").html
    assert html.startswith(SCROLLER + "<table>") and html.endswith("</table></div>")
    forged = render('<div class="x" role="button" tabindex="0" aria-label="y">z</div>').html
    assert "role=" not in forged and "tabindex" not in forged and "aria-label" not in forged
