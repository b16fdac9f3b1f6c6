"""No internal text is reachable anonymously: crawl everything public, probe every feature.

Canary strings sit in internal documents, internal blocks, internal titles, summaries, tags,
slugs, owners, commit messages, a deleted internal document and in documents that changed
audience (internal → public and public → internal).  An anonymous client then crawls every
reachable URL (links, sitemap, robots, static files, error pages) plus the ``PROBES`` below,
and no response body or header may contain a canary.

Adding a feature's URL is one line in ``PROBES``.  Placeholders: ``{q}`` (every canary, its
prefixes and typos), ``{folder}``/``{slug}`` (every document, public, internal or deleted),
``{rev}``/``{rev2}`` (every commit, full and short).  A probe for a URL that does not exist
yet passes while it answers a clean 404; once the feature lands, its output is checked.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections import deque
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit

import pytest

from app import create_app
from tests.conftest import (
    CANARY_BLOCK,
    CANARY_DOC,
    CANARY_TITLE,
    FIXTURE_DOCS,
    PASSWORD,
    git,
    make_repo,
)

CANARY_SUMMARY = "leakcanarysummary"
CANARY_TAG = "leakcanarytag"
CANARY_SLUG = "leakcanaryslug"
CANARY_OWNER = "leakcanaryowner"
CANARY_COMMIT = "leakcanarycommitmsg"
CANARY_FORMER = "leakcanaryformerlyinternal"  # in an internal version of a now-public doc
CANARY_TURNED = "leakcanaryturnedinternal"  # in a once-public doc that is internal now
CANARY_DELETED = "leakcanarydeleteddoc"  # in an internal doc that was deleted
CANARY_LATE_BLOCK = "leakcanarylateblock"  # internal block added in a later commit

CANARIES = [CANARY_DOC, CANARY_TITLE.split()[0], CANARY_BLOCK, CANARY_SUMMARY, CANARY_TAG,
            CANARY_SLUG, CANARY_OWNER, CANARY_COMMIT, CANARY_FORMER, CANARY_TURNED,
            CANARY_DELETED, CANARY_LATE_BLOCK]

# One line per URL shape a feature serves; see the module docstring for placeholders.
PROBES = [
    "/?as=staff", "/?as=customer", "/?audience=internal",
    "/{folder}/{slug}", "/{folder}/{slug}?as=customer", "/{folder}/{slug}?as=staff",
    "/{folder}/{slug}.md", "/{folder}/{slug}/",
    # search (issue 4)
    "/search?q={q}", "/search?q={q}&as=staff", "/api/search?q={q}", "/api/suggest?q={q}",
    "/api/search?q={q}&audience=internal",
    # history, diffs, as_of views, feeds (issue 3)
    "/{folder}/{slug}/history", "/{folder}/{slug}?as_of={rev}", "/{folder}/{slug}/at/{rev}",
    "/{folder}/{slug}/diff/{rev}", "/{folder}/{slug}/diff?from={rev2}&to={rev}",
    "/{folder}/{slug}/raw", "/history", "/changes", "/changes.atom", "/feed.xml",
    "/feed.atom", "/rss.xml", "/api/documents", "/api/documents/{folder}/{slug}",
    # infrastructure
    "/sitemap.xml", "/robots.txt", "/healthz", "/static/{slug}", "/.git/HEAD",
    "/login?next=/{folder}/{slug}", "/logout",
]

MAX_URLS = 6000


def _prefixes_and_typos(word: str) -> list[str]:
    word = word.lower()
    variants = {word, word[:4], word[: len(word) // 2], word[:-1],
                word[:-2] + word[-1] + word[-2],  # transposed last letters
                word[:3] + word[4:],  # one letter dropped
                word.upper()}
    return sorted(v for v in variants if len(v) >= 3)


def _history_docs() -> dict[str, str]:
    return {
        **FIXTURE_DOCS,
        "policies/returns.md": f"""\
            ---
            title: Returns
            summary: Send items back within 30 days.
            audience: public
            owner: {CANARY_OWNER}@example.com
            tags: [orders]
            ---
            Returns are free within 30 days.
            """,
        f"policies/{CANARY_SLUG}.md": f"""\
            ---
            title: Fraud signals
            summary: {CANARY_SUMMARY}
            audience: internal
            tags: [{CANARY_TAG}]
            ---
            Watch for repeated address changes.
            """,
        f"faq/{CANARY_SLUG}-faq.md": f"""\
            ---
            title: Which refunds need a second approval?
            audience: internal
            tags: [{CANARY_TAG}]
            ---
            Anything above $500.
            """,
        "policies/warranty.md": f"""\
            ---
            title: Warranty
            audience: internal
            ---
            Draft: {CANARY_FORMER} numbers are not final.
            """,
        "policies/loyalty.md": f"""\
            ---
            title: Loyalty {CANARY_TURNED}
            summary: Points for {CANARY_TURNED} members.
            audience: public
            ---
            Earn one point per dollar ({CANARY_TURNED}).
            """,
        "policies/deleted.md": f"""\
            ---
            title: Old scripts {CANARY_DELETED}
            audience: internal
            ---
            {CANARY_DELETED}
            """,
    }


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def leak_app(tmp_path):
    """An app over a content repo whose history holds every kind of canary."""
    root = make_repo(tmp_path / "content", _history_docs())
    _write(root, f"policies/{CANARY_SLUG}.md",
           (root / f"policies/{CANARY_SLUG}.md").read_text() + "\nAlso check gift cards.\n")
    git(root, "commit", "-qam", f"Tighten fraud signals ({CANARY_COMMIT})")
    _write(root, "policies/warranty.md", """\
        ---
        title: Warranty
        audience: public
        ---
        Every product has a two-year warranty.
        """)
    git(root, "commit", "-qam", "Publish the warranty policy")
    _write(root, "policies/loyalty.md", (root / "policies/loyalty.md").read_text()
           .replace("audience: public", "audience: internal"))
    git(root, "commit", "-qam", "Withdraw the loyalty programme")
    git(root, "rm", "-q", "policies/deleted.md")
    git(root, "commit", "-qm", "Remove old scripts")
    _write(root, "policies/returns.md", (root / "policies/returns.md").read_text()
           + f"\n::: internal\nWaive the fee for {CANARY_LATE_BLOCK} customers.\n:::\n")
    git(root, "commit", "-qam", "Returns: agent guidance")
    app = create_app({
        "TESTING": True, "SECRET_KEY": "leak-test-key-0123456789",
        "KB_DATA_DIR": str(tmp_path / "data"), "KB_CONTENT_DIR": str(root),
        "RATELIMIT_ENABLED": False,  # CSRF stays on: its error page is crawled too
    })
    from app.auth import add_user
    from app.db import connect

    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    return app


def _revisions(root: Path) -> list[str]:
    shas = git(root, "rev-list", "--all").split()
    return shas + [s[:7] for s in shas]


def _documents(root: Path) -> list[tuple[str, str]]:
    """(folder, slug) of every Markdown file that ever existed in the repository."""
    names = set(git(root, "log", "--all", "--format=", "--name-only").split())
    out = []
    for name in sorted(n for n in names if n.endswith(".md")):
        folder, _, rest = name.partition("/")
        out.append((folder, rest[:-3]))
    return out


def probe_urls(root: Path) -> list[str]:
    words = sorted({v for c in CANARIES for v in _prefixes_and_typos(c)})
    docs = _documents(root)
    revs = _revisions(root)
    urls: list[str] = []
    for template in PROBES:
        if "{q}" in template:
            urls += [template.format(q=quote(w)) for w in words]
        elif "{rev" in template:
            urls += [template.format(folder=f, slug=s, rev=r, rev2=revs[-1])
                     for f, s in docs for r in revs]
        elif "{slug}" in template:
            urls += [template.format(folder=f, slug=s) for f, s in docs]
        else:
            urls.append(template)
    return list(dict.fromkeys(urls))


_LINK_RE = re.compile(r"""(?:href|src|action)\s*=\s*["']([^"']+)["']""", re.I)
_LOC_RE = re.compile(r"<loc>([^<]+)</loc>")
_SITEMAP_RE = re.compile(r"^Sitemap:\s*(\S+)", re.M | re.I)


def links(base: str, body: str) -> list[str]:
    found = _LINK_RE.findall(body) + _LOC_RE.findall(body) + _SITEMAP_RE.findall(body)
    out = []
    for raw in found:
        url = urljoin(base, html.unescape(raw.strip()))
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc == "localhost":
            out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


def canaries_in(text: str, echoes: list[str] = ()) -> list[str]:
    """Canaries in ``text``, also when percent-encoded or written as HTML entities.

    A page may echo its own request (the sign-in link's ``next=``, a search box's value):
    ``echoes`` are removed first, the full URL anywhere and each value as a whole word in its
    exact case; a result link or snippet naming a canary is still caught.
    """
    haystack = html.unescape(unquote(html.unescape(text)))
    for echo in sorted(echoes, key=len, reverse=True):
        if echo.startswith("/"):
            haystack = haystack.replace(echo, "")
        elif echo:
            # Exact case only: each canary is also probed in UPPER case, so a page that
            # repeats the query ("Results for “CANARY”") is fine while a snippet, title or
            # suggestion written in the document's own case is still caught.
            haystack = re.sub(r"(?<!\w)" + re.escape(echo) + r"(?!\w)", "", haystack)
    haystack = haystack.lower()
    return [c for c in CANARIES if c.lower() in haystack]


def request_echoes(url: str, form: dict | None = None) -> list[str]:
    parts = urlsplit(url)
    full = unquote(url)
    values = [v for _, v in parse_qsl(parts.query)] + list((form or {}).values())
    return [full, unquote(parts.path), *values]


def crawl(client, seeds: list[str], posts: list[str] = ()) -> dict[str, int]:
    """Fetch ``seeds`` and everything they link to; fail on a canary or a 5xx."""
    seen: dict[str, int] = {}
    queue = deque(seeds)
    leaks = []
    while queue and len(seen) < MAX_URLS:
        url = queue.popleft()
        if url in seen:
            continue
        res = client.get(url)
        seen[url] = res.status_code
        body = res.get_data(as_text=True)
        headers = "\n".join(f"{k}: {v}" for k, v in res.headers.items())
        found = canaries_in(body + "\n" + headers, request_echoes(url))
        if found:
            leaks.append((url, res.status_code, found))
        assert res.status_code < 500, f"{url} answered {res.status_code}"
        assert "Traceback" not in body, url
        for link in links("http://localhost" + url, body):
            if link not in seen:
                queue.append(link)
    for url in posts:
        form = {"username": CANARY_DOC, "password": CANARY_SLUG}
        res = client.post(url, data=form)
        assert res.status_code < 500, f"POST {url} answered {res.status_code}"
        found = canaries_in(res.get_data(as_text=True), request_echoes(url, form))
        if found:
            leaks.append(("POST " + url, res.status_code, found))
    assert not leaks, leaks
    return seen


def test_crawler_finds_leaks():
    """The detector itself: plain, percent-encoded and entity-encoded canaries are caught."""
    assert canaries_in(f"<p>{CANARY_DOC}</p>") == [CANARY_DOC]
    assert canaries_in(quote(CANARY_SLUG)) == [CANARY_SLUG]
    assert canaries_in("&#108;eakcanarysummary") == [CANARY_SUMMARY]
    assert canaries_in("nothing here") == []
    # echoes of the request are not leaks; the same word elsewhere on the page is
    echo = request_echoes(f"/search?q={CANARY_SLUG}")
    assert canaries_in(f'<input name="q" value="{CANARY_SLUG}">', echo) == []
    upper = request_echoes(f"/search?q={CANARY_SLUG.upper()}")
    assert canaries_in(f"<h1>Results for “{CANARY_SLUG.upper()}”</h1>", upper) == []
    assert canaries_in(f'<a href="/policies/{CANARY_SLUG}">', upper) == [CANARY_SLUG]
    assert canaries_in(f"<mark>{CANARY_SLUG}</mark>", upper) == [CANARY_SLUG]
    # (a lower-case echo hides the same word in the page: the UPPER-case probe covers that)
    path_echo = request_echoes(f"/policies/{CANARY_SLUG}")
    assert canaries_in(f'<a href="/login?next=%2Fpolicies%2F{CANARY_SLUG}">', path_echo) == []
    assert links("http://localhost/a/b", '<a href="c?x=1&amp;y=2">') == ["/a/c?x=1&y=2"]


def test_staff_do_see_the_canaries(leak_app):
    """Proof the fixtures are live: the same URLs show the canaries to a signed-in agent."""
    client = leak_app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "agent", "password": PASSWORD, "csrf_token": token})
    pages = "".join(client.get(u).get_data(as_text=True) for u in (
        "/", "/policies/escalation", "/policies/refunds", f"/policies/{CANARY_SLUG}",
        "/policies/loyalty", "/policies/returns"))
    for canary in (CANARY_DOC, CANARY_BLOCK, CANARY_TITLE.split()[0], CANARY_SUMMARY,
                   CANARY_TAG, CANARY_SLUG, CANARY_OWNER, CANARY_TURNED, CANARY_LATE_BLOCK):
        assert canary.lower() in pages.lower(), canary
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    log = git(root, "log", "--all", "-p")
    for canary in (CANARY_COMMIT, CANARY_FORMER, CANARY_DELETED):
        assert canary in log


def test_no_canary_reachable_anonymously(leak_app):
    client = leak_app.test_client()
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    seeds = ["/", "/sitemap.xml", "/robots.txt", "/login", "/no-such-page", *probe_urls(root)]
    seen = crawl(client, seeds, posts=["/login", "/logout", "/policies/escalation"])
    # The crawl really covered the site: public pages, static files, and the probes.
    assert seen["/policies/refunds"] == 200 and seen["/policies/warranty"] == 200
    assert seen["/sitemap.xml"] == 200
    assert any(u.startswith("/static/") and s == 200 for u, s in seen.items())
    for internal in ("/policies/escalation", f"/policies/{CANARY_SLUG}", "/policies/loyalty",
                     "/policies/deleted", "/faq/agents/log-credit"):
        assert seen[internal] == 404
    assert len(seen) > 500


def test_staff_view_as_customer_shows_only_the_public_projection(leak_app):
    """"View as customer" must show exactly what the public sees: crawl it signed in."""
    staff = leak_app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      staff.get("/login").get_data(as_text=True)).group(1)
    staff.post("/login", data={"username": "agent", "password": PASSWORD, "csrf_token": token})
    anonymous = leak_app.test_client()
    for url in ("/policies/refunds", "/policies/returns", "/policies/warranty",
                "/faq/track-order"):
        preview = staff.get(url + "?as=customer").get_data(as_text=True)
        public = anonymous.get(url).get_data(as_text=True)
        assert canaries_in(preview, request_echoes(url + "?as=customer")) == [], url
        article = re.compile(r'<div class="content">(.*?)</div>\s*(?:<p class="meta changes-link"|'
                             r'<section id="feedback"|</article>)', re.S)
        assert article.search(preview).group(1) == article.search(public).group(1), url
    for url in ("/policies/escalation", "/policies/loyalty", f"/policies/{CANARY_SLUG}"):
        assert staff.get(url + "?as=customer").status_code == 404
