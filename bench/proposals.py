"""Benchmark: what the approval workflow costs a save, a proposal page and a publish.

    .venv/bin/python bench/proposals.py [-n 15]

Prints the date and, in milliseconds (median and p95), for the fixture content of the tests:
a direct save (internal text), a save that opens a new proposal, a save that extends one,
the proposal page, and approve-and-publish (one merge commit).  Flask test client, one
process, no network.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import re
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=15)
    n = parser.parse_args().n
    from app import create_app
    from app.accounts.auth import add_user
    from app.db import connect
    from tests.conftest import FIXTURE_DOCS, PASSWORD, make_repo

    tmp = Path(tempfile.mkdtemp(prefix="bench-proposals-"))
    docs = dict(FIXTURE_DOCS)
    for i in range(n):
        docs[f"policies/bench-{i}.md"] = textwrap.dedent(f"""\
            ---
            title: Bench {i}
            audience: public
            ---
            Public text {i}.

            ::: internal
            Internal text {i}.
            :::
            """)
    content = make_repo(tmp / "content", docs)
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-key-0123456789abcdef",
                      "KB_DATA_DIR": str(tmp / "data"), "KB_CONTENT_DIR": str(content),
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    db = connect(app.config["DATABASE"])
    add_user(db, "editor", PASSWORD, "editor")
    add_user(db, "approver", PASSWORD, "approver")
    db.close()
    editor, approver = app.test_client(), app.test_client()
    editor.post("/login", data={"username": "editor", "password": PASSWORD})
    approver.post("/login", data={"username": "approver", "password": PASSWORD})

    def form(slug: str) -> dict:
        page = editor.get(f"/edit/policies/{slug}").text
        fields = {k: html.unescape(v) for k, v in re.findall(
            r'<input (?:type="hidden" )?name="(\w+)" value="([^"]*)"', page)}
        fields["body"] = html.unescape(re.search(
            r'<textarea name="body"[^>]*>(.*?)</textarea>', page, re.S).group(1))
        fields["audience"] = "public"
        fields["title"] = fields.get("title", "")
        return fields

    results: dict[str, list[float]] = {k: [] for k in (
        "direct save (internal text)", "save -> new proposal", "save -> extend proposal",
        "proposal page", "approve + publish (merge)")}

    def timed(name: str, fn):
        start = time.perf_counter()
        out = fn()
        results[name].append(time.perf_counter() - start)
        return out

    for i in range(n):
        slug = f"bench-{i}"
        fields = form(slug)
        fields["body"] = fields["body"].replace(f"Internal text {i}.", f"Internal {i} v2.")
        res = timed("direct save (internal text)",
                    lambda f=fields, s=slug: editor.post(f"/edit/policies/{s}", data=f))
        assert res.status_code == 302, res.status_code
        fields = form(slug)
        fields["body"] = fields["body"].replace(f"Public text {i}.", f"Public {i} v2.")
        res = timed("save -> new proposal",
                    lambda f=fields, s=slug: editor.post(f"/edit/policies/{s}", data=f))
        url = res.headers["Location"]
        fields = form(slug)
        fields["body"] = fields["body"].replace(f"Public {i} v2.", f"Public {i} v3.")
        timed("save -> extend proposal",
              lambda f=fields, s=slug: editor.post(f"/edit/policies/{s}", data=f))
        page = timed("proposal page", lambda u=url: approver.get(u)).text
        tip = re.search(r'name="tip" value="([0-9a-f]{40})"', page).group(1)
        res = timed("approve + publish (merge)",
                    lambda u=url, t=tip: approver.post(f"{u}/approve", data={"tip": t}))
        assert res.status_code == 303, res.status_code
    print(f"bench/proposals.py  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  n={n}")
    for name, samples in results.items():
        print(f"{name:30} {ms(samples)}")


if __name__ == "__main__":
    main()
