"""No internal text is reachable anonymously: crawl everything public, probe every feature.

Canary strings sit in internal documents, internal blocks, internal titles, summaries, tags,
slugs, owners, commit messages, a deleted internal document and in documents that changed
audience (internal → public and public → internal).  An anonymous client then crawls every
reachable URL (links, sitemap, robots, static files, error pages) plus the ``PROBES`` below,
and no response body or header may contain a canary.  A public page also has an upcoming
version (``effective`` after ``KB_TODAY``): its new text must not show before that date.

Adding a feature's URL is one line in ``PROBES`` (GET) or ``POST_PROBES``.  Placeholders:
``{q}`` (every canary, its prefixes and typos), ``{folder}``/``{slug}`` (every document,
public, internal or deleted), ``{rev}``/``{rev2}`` (every commit, full and short),
``{date}`` (days around the fixture commits and the upcoming effective date).  Staff
previewing "as customer" get the ``CUSTOMER_PROBES`` and must see no canary either.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import os
import re
import subprocess
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
CANARY_UPCOMING = "leakcanaryupcoming"  # public text of a version effective after today
CANARY_MATERIAL = "leakcanarymaterialmsg"  # message of a material change (editor's commit)
CANARY_SPOOF = "leakcanaryspoofcallout"  # in an "!!! agents-only" admonition of a public doc
# Open proposals: text nobody approved yet is for editors, approvers and admins only.
CANARY_PROPOSAL = "leakcanaryproposaltext"  # public text on a pushed proposal branch
CANARY_PROPOSAL_TITLE = "leakcanaryproposaltitle"  # a proposal commit's subject
CANARY_PROPOSAL_DOC = "leakcanaryproposalnewdoc"  # a new public document, only in a proposal
CANARY_PORTAL = "leakcanaryportalproposal"  # a proposal saved through the editor
CANARY_COMMENT = "leakcanaryproposalcomment"  # a comment in a proposal's thread
PROPOSAL_CANARIES = [CANARY_PROPOSAL, CANARY_PROPOSAL_TITLE, CANARY_PROPOSAL_DOC,
                     CANARY_PORTAL, CANARY_COMMENT]

CANARIES = [CANARY_DOC, CANARY_TITLE.split()[0], CANARY_BLOCK, CANARY_SUMMARY, CANARY_TAG,
            CANARY_SLUG, CANARY_OWNER, CANARY_COMMIT, CANARY_FORMER, CANARY_TURNED,
            CANARY_DELETED, CANARY_LATE_BLOCK, CANARY_UPCOMING, CANARY_MATERIAL,
            CANARY_SPOOF, *PROPOSAL_CANARIES]

TODAY = dt.date.today()  # KB_TODAY of the fixture app; commits are made today
UPCOMING = TODAY + dt.timedelta(days=30)  # effective date of the upcoming shipping version
INTERNAL_ONLY_DAY = TODAY - dt.timedelta(days=3)  # date of a commit of internal text only
INTERNAL_ONLY_MESSAGE = "Returns: internal wording only"

# One line per URL shape a feature serves (the README's URL table); see the module docstring.
PROBES = [
    "/?as=staff", "/?as=customer", "/?audience=internal",
    "/{folder}/{slug}", "/{folder}/{slug}?as=customer", "/{folder}/{slug}?as=staff",
    "/{folder}/{slug}.md", "/{folder}/{slug}/", "/policies/?tag={q}", "/faq/?tag={q}",
    # search
    "/search?q={q}", "/search?q={q}&as=staff", "/api/search?q={q}",
    "/api/search?q={q}&limit=50", "/search?q=tag:{q}",
    # history, diffs, old versions, effective dates, public changelog and feed
    "/history/{folder}/{slug}", "/history/{folder}/{slug}?page=2",
    "/diff/{folder}/{slug}", "/diff/{folder}/{slug}?from={rev2}&to={rev}",
    "/diff/{folder}/{slug}?from={rev2}&to={rev}&mode=source",
    "/diff/{folder}/{slug}?from={rev2}&to={rev}&view=inline",
    "/{folder}/{slug}?rev={rev}", "/{folder}/{slug}?as_of={date}",
    "/{folder}/{slug}?rev={rev}&as=customer",
    "/changes", "/changes.atom", "/changes/{folder}/{slug}", "/changes/{folder}/{slug}?page=2",
    "/changes/{folder}/{slug}?page=10", "/policies/?page=2", "/faq/?page=0",
    # editing, lifecycle: staff only, so a clean 404 or the sign-in page
    "/edit/{folder}/{slug}", "/new", "/preview", "/manage", "/manage?view=all",
    "/manage/search", "/manage/search?audience=staff", "/to-read",
    "/manage/charts/acks.csv", "/manage/charts/helpful.csv", "/manage/charts/reviews-due.csv",
    "/acks/{folder}/{slug}", "/acks/{folder}/{slug}?format=csv",
    # proposals: editors, approvers and admins only
    "/proposals", "/proposals?status=all", "/proposals/1", "/proposals/2", "/proposals/3",
    "/proposals/1/resolve", "/proposals/2/resolve", "/manage/approvals",
    "/manage/approvals?format=csv", "/edit/gate",
    # infrastructure
    "/sitemap.xml", "/robots.txt", "/healthz", "/static/{slug}", "/.git/HEAD", "/api/csrf-token",
    "/login?next=/{folder}/{slug}", "/logout",
]

# POSTs an anonymous visitor can make, with a valid CSRF token (``{token}``) so the request
# reaches the feature rather than the CSRF error page.  JSON bodies are sent as JSON.
POST_PROBES = [
    ("/preview", {"body": f"::: internal\n{CANARY_BLOCK}\n:::\n", "csrf_token": "{token}"}),
    ("/feedback/{folder}/{slug}", {"helpful": "yes", "comment": "x"}),  # no token: confirm page
    ("/feedback/{folder}/{slug}", {"helpful": "no", "comment": "", "csrf_token": "{token}"}),
    ("/acknowledge/{folder}/{slug}", {"rev": "{rev}", "csrf_token": "{token}"}),
    ("/edit/{folder}/{slug}", {"body": "x", "message": "x", "csrf_token": "{token}"}),
    ("/edit/gate?kind=policy&slug={slug}", {"body": "x", "csrf_token": "{token}"}),
    ("/proposals/1/approve", {"tip": "{rev}", "csrf_token": "{token}"}),
    ("/proposals/2/comment", {"comment": "x", "csrf_token": "{token}"}),
    ("/proposals/2/resolve", {"tip": "{rev}", "main": "{rev}", "csrf_token": "{token}"}),
    ("/api/search/click", {"json": {"url": "/{folder}/{slug}", "q": "{slug}"}}),
    ("/api/search/click", {"json": {"url": "/{folder}/{slug}", "log_id": "1"}}),
]

# What a signed-in agent sees with "View as customer": exactly the public projection.
CUSTOMER_PROBES = [
    "/?as=customer", "/{folder}/{slug}?as=customer", "/search?q={q}&as=customer",
    "/api/search?q={q}&as=customer", "/{folder}/{slug}?rev={rev}&as=customer",
    "/{folder}/{slug}?as_of={date}&as=customer", "/policies/?as=customer",
    "/faq/?as=customer",
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
        "policies/shipping.md": """\
            ---
            title: Shipping
            summary: How long delivery takes.
            audience: public
            effective: 2026-01-01
            ---
            Standard delivery takes five working days.
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
    # An upcoming public version: its text applies (and may be shown) from UPCOMING only.
    _write(root, "policies/shipping.md", f"""\
        ---
        title: Shipping
        summary: How long delivery takes.
        audience: public
        effective: {UPCOMING.isoformat()}
        ---
        Standard delivery takes {CANARY_UPCOMING} working days.
        """)
    git(root, "commit", "-qam", "Shipping: new delivery times")
    # A material change with a commit message that is for staff only.
    _write(root, "policies/refunds.md", (root / "policies/refunds.md").read_text()
           .replace("We refund most orders.", "We refund almost every order."))
    git(root, "commit", "-qam", f"Refunds wording ({CANARY_MATERIAL})\n\nMaterial: yes")
    # A public page faking the "Agents only" callout: the admonition hides its text, and
    # raw HTML gets no callout class.
    _write(root, "policies/warranty.md", (root / "policies/warranty.md").read_text()
           + f'\n!!! agents-only "Agents only"\n    Spoofed: {CANARY_SPOOF} approvals.\n\n'
           '<div class="admonition agents-only"><p>Raw box.</p></div>\n')
    git(root, "commit", "-qam", "Warranty: a note for agents")
    # The newest commit changes only internal text (on a date no other commit has): the
    # page's printed "version as of" line must not name it.
    _write(root, "policies/returns.md", (root / "policies/returns.md").read_text()
           .replace("Waive the fee", "Waive the handling fee"))
    stamp = f"{INTERNAL_ONLY_DAY.isoformat()}T12:00:00+00:00"
    subprocess.run(["git", "-C", str(root), "commit", "-qam", INTERNAL_ONLY_MESSAGE],
                   check=True, env={**os.environ, "GIT_AUTHOR_DATE": stamp,
                                    "GIT_COMMITTER_DATE": stamp})
    # An open proposal pushed by a git user: several commits, a change and a new document.
    git(root, "checkout", "-q", "-b", "proposals/1-pushed")
    _write(root, "policies/returns.md", (root / "policies/returns.md").read_text()
           .replace("Returns are free", f"Returns ({CANARY_PROPOSAL}) are free"))
    git(root, "commit", "-qam", f"Returns {CANARY_PROPOSAL_TITLE}")
    _write(root, f"policies/{CANARY_PROPOSAL_DOC}.md", f"""\
        ---
        title: Price match {CANARY_PROPOSAL_DOC}
        audience: public
        ---
        We match prices ({CANARY_PROPOSAL_DOC}).
        """)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Price match")
    git(root, "checkout", "-q", "main")
    app = create_app({
        "TESTING": True, "SECRET_KEY": "leak-test-key-0123456789",
        "KB_DATA_DIR": str(tmp_path / "data"), "KB_CONTENT_DIR": str(root),
        "RATELIMIT_ENABLED": False,  # CSRF stays on: its error page is crawled too
        "KB_TODAY": TODAY,
    })
    from app.accounts.auth import add_user
    from app.db import connect
    from app.editing import proposals, propose, publish
    from app.editing.save import Change

    add_user(connect(app.config["DATABASE"]), "agent", PASSWORD, "agent")
    add_user(connect(app.config["DATABASE"]), "editor", PASSWORD, "editor")
    with app.app_context():  # and one saved through the editor, with a comment
        proposals.sync()
        text = (root / "faq/track-order.md").read_text().replace(
            "shipping email", f"shipping email ({CANARY_PORTAL})")
        saved = propose.save_or_propose(
            "faq", "track-order", text, base_rev=git(root, "rev-parse", "HEAD").strip(),
            change=Change(message=f"Tracking {CANARY_PORTAL}", author="editor"))
        publish.comment(saved.proposal, "editor", f"Check {CANARY_COMMENT}")
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


def _dates() -> list[str]:
    days = [dt.date(2000, 1, 1), TODAY - dt.timedelta(days=1), TODAY,
            TODAY + dt.timedelta(days=1), UPCOMING - dt.timedelta(days=1), UPCOMING,
            UPCOMING + dt.timedelta(days=1), dt.date(2999, 12, 31)]
    return [d.isoformat() for d in days] + ["2026-13-45", "today"]


def probe_urls(root: Path, templates: list[str] = PROBES) -> list[str]:
    words = sorted({v for c in CANARIES for v in _prefixes_and_typos(c)})
    docs = _documents(root)
    revs = _revisions(root)
    urls: list[str] = []
    for template in templates:
        if "{q}" in template:
            urls += [template.format(q=quote(w)) for w in words]
        elif "{rev" in template:
            # Every revision against the first and against the one before (pairs that
            # include the internal → public and public → internal switches).
            pairs = [(r, revs[-1]) for r in revs] + list(itertools.pairwise(revs))
            urls += [template.format(folder=f, slug=s, rev=r, rev2=r2)
                     for f, s in docs for r, r2 in pairs]
        elif "{date}" in template:
            urls += [template.format(folder=f, slug=s, date=d) for f, s in docs for d in _dates()]
        elif "{slug}" in template:
            urls += [template.format(folder=f, slug=s) for f, s in docs]
        else:
            urls.append(template)
    return list(dict.fromkeys(urls))


def post_probes(root: Path) -> list[tuple[str, dict]]:
    """(url, form) for every ``POST_PROBES`` entry and document; ``{token}`` filled later."""
    revs = _revisions(root)[:3]
    out = []
    for template, form in POST_PROBES:
        for folder, slug in _documents(root):
            for rev in revs if "{rev}" in json.dumps(form) else revs[:1]:
                def fill(value, f=folder, s=slug, r=rev):
                    if isinstance(value, dict):
                        return {k: fill(v) for k, v in value.items()}
                    return value.replace("{folder}", f).replace("{slug}", s).replace("{rev}", r)
                out.append((fill(template), fill(form)))
    return out


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


def canaries_in(text: str, echoes: list[str] = (), extra: list[str] = ()) -> list[str]:
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
    return [c for c in [*CANARIES, *extra] if c.lower() in haystack]


def internal_only_marks(root: Path) -> list[str]:
    """What would name the internal-only commit: its id (as pages abbreviate it) and the
    printed line with its date."""
    sha = git(root, "log", "-1", "--format=%H", f"--grep={INTERNAL_ONLY_MESSAGE}").strip()
    assert sha
    return [sha, sha[:7], sha[:8], sha[:12], f"version as of {INTERNAL_ONLY_DAY.isoformat()}"]


_CALLOUT_RE = re.compile(r"""class\s*=\s*["'][^"']*\bagents-only\b""")


def request_echoes(url: str, form: dict | None = None) -> list[str]:
    parts = urlsplit(url)
    full = unquote(url)
    values = [v for _, v in parse_qsl(parts.query)] + list((form or {}).values())
    return [full, unquote(parts.path), *values]


def crawl(client, seeds: list[str], posts: list[str] = (), *, follow: bool = True,
          form_posts: list[tuple[str, dict]] = (), staff_404: bool = False,
          extra: list[str] = ()) -> dict[str, int]:
    """Fetch ``seeds`` and everything they link to; fail on a canary (or one of ``extra``),
    an "Agents only" callout in a customer's page, or a 5xx.

    ``form_posts`` are (url, form) POSTs sent with this client's CSRF token.  ``staff_404``:
    a 404 page may name the document (staff previewing an internal page are told why it is
    not public; the status is what a customer gets).
    """
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
        found = canaries_in(body + "\n" + headers, request_echoes(url), extra)
        if res.mimetype == "text/html" and _CALLOUT_RE.search(body):
            found.append("agents-only callout")
        if found and not (staff_404 and res.status_code == 404):
            leaks.append((url, res.status_code, found))
        assert res.status_code < 500, f"{url} answered {res.status_code}"
        assert "Traceback" not in body, url
        for link in links("http://localhost" + url, body) if follow else ():
            if link not in seen:
                queue.append(link)
    token = csrf_token(client) if form_posts else ""
    for url, form in form_posts:
        if "json" in form:
            res = client.post(url, json=form["json"], headers={"X-CSRFToken": token})
            echoes = request_echoes(url, {k: str(v) for k, v in form["json"].items()})
        else:
            data = {k: v.replace("{token}", token) for k, v in form.items()}
            res = client.post(url, data=data)
            echoes = request_echoes(url, data)
        seen["POST " + url] = res.status_code
        assert res.status_code < 500, f"POST {url} answered {res.status_code}"
        body = res.get_data(as_text=True)
        headers = "\n".join(f"{k}: {v}" for k, v in res.headers.items())
        found = canaries_in(body + "\n" + headers, echoes, extra)
        if found:
            leaks.append(("POST " + url, res.status_code, found))
    for url in posts:
        form = {"username": CANARY_DOC, "password": CANARY_SLUG}
        res = client.post(url, data=form)
        assert res.status_code < 500, f"POST {url} answered {res.status_code}"
        found = canaries_in(res.get_data(as_text=True), request_echoes(url, form))
        if found:
            leaks.append(("POST " + url, res.status_code, found))
    assert not leaks, leaks
    return seen


def csrf_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def sign_in(client, username: str = "agent") -> None:
    res = client.post("/login", data={"username": username, "password": PASSWORD,
                                      "csrf_token": csrf_token(client)})
    assert res.status_code == 302


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
    sign_in(client)
    pages = "".join(client.get(u).get_data(as_text=True) for u in (
        "/", "/policies/escalation", "/policies/refunds", f"/policies/{CANARY_SLUG}",
        "/policies/loyalty", "/policies/returns", "/policies/shipping",
        f"/history/policies/{CANARY_SLUG}", "/history/policies/refunds", "/policies/warranty"))
    for canary in (CANARY_DOC, CANARY_BLOCK, CANARY_TITLE.split()[0], CANARY_SUMMARY,
                   CANARY_TAG, CANARY_SLUG, CANARY_OWNER, CANARY_TURNED, CANARY_LATE_BLOCK,
                   CANARY_UPCOMING, CANARY_COMMIT, CANARY_MATERIAL, CANARY_SPOOF):
        assert canary.lower() in pages.lower(), canary
    # Staff see the spoofed block as internal (the real callout), and the newest commit.
    warranty = client.get("/policies/warranty").get_data(as_text=True)
    assert 'class="admonition agents-only"' in warranty and "Raw box." in warranty
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    sha = internal_only_marks(root)[0]
    assert f"({sha[:8]})" in client.get("/policies/returns").get_data(as_text=True)
    # The upcoming version is staff-only news: agents are told when it applies.
    assert "Changes take effect on" in client.get("/policies/shipping").get_data(as_text=True)
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    log = git(root, "log", "--all", "-p")
    for canary in (CANARY_FORMER, CANARY_DELETED):
        assert canary in log
    # The public still reads the version in force: the upcoming one is really withheld.
    public = leak_app.test_client().get("/policies/shipping").get_data(as_text=True)
    assert "five working days" in public and CANARY_UPCOMING not in public
    # ...and public search finds the version in force, while staff search has the new text.
    found = leak_app.test_client().get('/api/search?q="five+working+days"').get_json()
    assert [r["url"] for r in found["results"]] == ["/policies/shipping"]
    staff = client.get(f"/api/search?q={CANARY_UPCOMING}").get_json()
    assert [r["url"] for r in staff["results"]] == ["/policies/shipping"]


def test_no_canary_reachable_anonymously(leak_app):
    client = leak_app.test_client()
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    seeds = ["/", "/sitemap.xml", "/robots.txt", "/login", "/no-such-page", *probe_urls(root)]
    seen = crawl(client, seeds, posts=["/login", "/logout", "/policies/escalation"],
                 form_posts=post_probes(root), extra=internal_only_marks(root))
    # The crawl really covered the site: public pages, static files, and the probes.
    assert seen["/policies/refunds"] == 200 and seen["/policies/warranty"] == 200
    assert seen["/policies/shipping"] == 200 and seen["/changes"] == 200
    assert seen["/changes.atom"] == 200 and seen["/changes/policies/refunds"] == 200
    assert seen[f"/policies/refunds?as_of={TODAY}"] == 200
    assert seen["/sitemap.xml"] == 200
    assert any(u.startswith("/api/search?q=") and s == 200 for u, s in seen.items())
    assert any(u.startswith("/policies/refunds?rev=") and s == 200 for u, s in seen.items())
    assert seen["POST /feedback/policies/refunds"] in (302, 303)  # accepted, not refused
    assert any(u.startswith("/static/") and s == 200 for u, s in seen.items())
    for internal in ("/policies/escalation", f"/policies/{CANARY_SLUG}", "/policies/loyalty",
                     "/policies/deleted", "/faq/agents/log-credit"):
        assert seen[internal] == 404
    assert len(seen) > 500


def test_agents_never_see_open_proposals(leak_app):
    """Agents rely on the one published text: no proposal text reaches them anywhere --
    pages, old revisions, diffs, history, search, changelog, feed, proposal URLs."""
    staff = leak_app.test_client()
    sign_in(staff, "editor")
    assert staff.get("/proposals").status_code == 200
    pages = staff.get("/proposals/1").get_data(as_text=True) + staff.get(
        "/proposals/2").get_data(as_text=True) + staff.get("/proposals").get_data(as_text=True)
    for canary in PROPOSAL_CANARIES:  # the fixtures are live
        assert canary in pages, canary
    agent = leak_app.test_client()
    sign_in(agent)
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    unpublished = git(root, "rev-list", "--branches=proposals", "^main").split()
    assert len(unpublished) == 3
    urls = [u for u in probe_urls(root) if "{" not in u and "rev=" not in u
            and "from=" not in u and "as_of=" not in u]
    urls += [f"/{folder}/{slug}?rev={rev}" for folder, slug in _documents(root)
             for rev in unpublished]
    urls += [f"/diff/{folder}/{slug}?to={rev}" for folder, slug in _documents(root)
             for rev in unpublished]
    leaks = []
    for url in urls:
        res = agent.get(url)
        assert res.status_code < 500, url
        body = html.unescape(unquote(res.get_data(as_text=True))).lower()
        echoes = [e.lower() for e in request_echoes(url)]
        for echo in sorted(echoes, key=len, reverse=True):
            body = body.replace(echo, "")
        leaks += [(url, c) for c in PROPOSAL_CANARIES if c in body]
    assert not leaks, leaks
    for url in ("/proposals", "/proposals/1", "/proposals/2", "/manage/approvals"):
        assert agent.get(url).status_code == 404


def test_staff_as_customer_crawl_shows_no_canary(leak_app):
    """Every "View as customer" URL of a signed-in agent holds no canary (no links followed:
    the staff header and links are for the agent)."""
    staff = leak_app.test_client()
    sign_in(staff)
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    seen = crawl(staff, probe_urls(root, CUSTOMER_PROBES), follow=False, staff_404=True,
                 extra=internal_only_marks(root))
    assert seen["/policies/refunds?as=customer"] == 200
    assert seen["/policies/shipping?as=customer"] == 200
    assert seen["/policies/escalation?as=customer"] == 404
    assert any(u.startswith("/api/search?q=") and s == 200 for u, s in seen.items())


def test_staff_view_as_customer_shows_only_the_public_projection(leak_app):
    """"View as customer" must show exactly what the public sees: crawl it signed in."""
    staff = leak_app.test_client()
    sign_in(staff)
    anonymous = leak_app.test_client()
    for url in ("/policies/refunds", "/policies/returns", "/policies/warranty",
                "/policies/shipping", "/faq/track-order"):
        preview = staff.get(url + "?as=customer").get_data(as_text=True)
        public = anonymous.get(url).get_data(as_text=True)
        assert canaries_in(preview, request_echoes(url + "?as=customer")) == [], url
        article = re.compile(r'<div class="content">(.*?)</div>\s*(?:<p class="meta changes-link"|'
                             r'<section id="feedback"|</article>)', re.S)
        assert article.search(preview).group(1) == article.search(public).group(1), url
    for url in ("/policies/escalation", "/policies/loyalty", f"/policies/{CANARY_SLUG}"):
        assert staff.get(url + "?as=customer").status_code == 404


def test_the_print_line_names_the_last_change_customers_can_see(leak_app):
    """A page's printed "version as of DATE (commit)" line: customers get the last commit
    that changed the public projection, never a newer one that changed only internal text
    (nor one that only added an internal block); staff get the file's last commit."""
    root = Path(leak_app.config["KB_CONTENT_DIR"])
    internal = internal_only_marks(root)[0]
    created = git(root, "log", "--reverse", "--format=%H", "--", "policies/returns.md").split()[0]
    line = re.compile(r"version as of (\d{4}-\d\d-\d\d) \(([0-9a-f]{8})\)")
    public = line.search(leak_app.test_client().get("/policies/returns").get_data(as_text=True))
    assert public.group(2) == created[:8] and public.group(1) != INTERNAL_ONLY_DAY.isoformat()
    staff = leak_app.test_client()
    sign_in(staff)
    assert line.search(staff.get("/policies/returns").get_data(as_text=True)).groups() == (
        INTERNAL_ONLY_DAY.isoformat(), internal[:8])
    preview = staff.get("/policies/returns?as=customer").get_data(as_text=True)
    assert line.search(preview).group(2) == created[:8]
    old = leak_app.test_client().get(f"/policies/returns?rev={internal}").get_data(as_text=True)
    assert line.search(old).group(2) == created[:8]
    assert INTERNAL_ONLY_DAY.strftime("%-d %B %Y") not in old
