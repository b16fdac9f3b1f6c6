"""Shared by the accessibility tests: a richer live site, and axe-core in the page.

axe-core is vendored (tests/browser/vendor/axe/, rebuilt by tools/vendor.sh) and injected as a
Playwright init script, which the browser runs outside the page's CSP: the site's own policy
stays exactly as strict as in production while axe checks it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from app.db import connect, migrate
from app.lifecycle import feedback, search_log
from tests.conftest import FIXTURE_DOCS, git

AXE = Path(__file__).resolve().parent / "vendor" / "axe" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe's own tag names).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

_ROWS = [
    ["Region", "Standard", "Express", "Next day", "Weekend", "Collection point", "Locker"],
    ["---"] * 7,
    ["Mainland", "3–5 working days", "1–2 working days", "next working day", "Saturday only",
     "2–4 working days", "2–3 working days"],
    ["Islands", "5–8 working days", "2–3 working days", "not available", "not available",
     "4–6 working days", "not available"],
]
WIDE_TABLE = "\n".join([
    "---", "title: Delivery times", "summary: How long delivery takes, by region and service.",
    "audience: public", "owner: logistics@example.com", "tags: [orders, delivery]",
    "review_by: 2026-12-20", "---", "Delivery times in working days.", "",
    *("| " + " | ".join(row) + " |" for row in _ROWS), "",
    '!!! note "Bank holidays"', "    Add one working day for each bank holiday.", "",
    "::: internal", "Agents can upgrade to express once per customer per year.", ":::", ""])


def a11y_docs() -> dict[str, str]:
    return {**FIXTURE_DOCS, "policies/delivery.md": WIDE_TABLE}


def add_history(content: Path, data: Path) -> None:
    """A material second revision of Refunds, and months of search and feedback rows, so
    history, diffs, "to read", acknowledgement reports and charts all have something to show."""
    refunds = content / "policies" / "refunds.md"
    refunds.write_text(refunds.read_text().replace("within 30 days", "within 45 days"))
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=5)).isoformat(timespec="seconds")
    subprocess.run(["git", "-C", str(content), "commit", "-q", "-am", "Refund window: 45 days",
                    "-m", "Material: yes"], check=True,
                   env={**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when})
    conn = connect(data / "portal.sqlite3")
    migrate(conn, str(data / "portal.sqlite3") + ".lock")
    now = dt.datetime.now(dt.UTC)
    for week in range(10):
        at = now - dt.timedelta(weeks=week, hours=1)
        for n in range(3 + week % 3):
            search_log.record(conn, "refund", "public", 2, "/policies/refunds" if n else None,
                              at=at)
        search_log.record(conn, "warranty", "public", 0, at=at)
        search_log.record(conn, "goodwill credit", "staff", 1, at=at)
        if week % 2:
            search_log.record(conn, "gift card", "staff", 0, at=at)
        feedback.record(conn, kind="policy", slug="refunds", helpful=week % 3 != 0,
                        comment="" if week else "Clear, thanks.", now=at)
        feedback.record(conn, kind="faq", slug="track-order", helpful=True, now=at)
    sha = git(content, "rev-parse", "HEAD").strip()
    for user, days_ago in (("agent", 2), ("editor", 0)):
        conn.execute("INSERT INTO acknowledgements (user_id, kind, slug, rev, acked_at) "
                     "SELECT id, 'policy', 'refunds', ?, ? FROM users WHERE username = ?",
                     (sha, (now - dt.timedelta(days=days_ago)).isoformat(timespec="seconds"),
                      user))
    conn.commit()
    conn.close()


def with_axe(context) -> None:
    context.add_init_script(path=str(AXE))


def axe_violations(page) -> list[str]:
    """axe's WCAG 2.x A/AA violations on the page as it is now, one line per failing node."""
    found = page.evaluate(
        """async (tags) => {
             const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                                resultTypes: ['violations']});
             return r.violations.flatMap(v => v.nodes.map(n =>
               `${v.id} (${v.impact}): ${n.target.join(' ')} :: ${n.failureSummary}`));
           }""", WCAG_TAGS)
    return list(found)
