"""Benchmark: history page and save latency on a content repository with 10,000+ commits.

    .venv/bin/python bench/history.py                 # generates bench/out/history-repo once
    .venv/bin/python bench/history.py --repo PATH --doc policies/some/doc.md

Prints median and p95 in milliseconds for: the history page (first page, a deep page, and
the first view after a new commit), the document page, a save through the edit form, the
diff view and the public changelogs.  Uses the Flask test client (no network), one process.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GEN = Path("/work/shared/bench/gen_corpus.py")
TARGET = "policies/returns-and-refunds/refund-policy.md"


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def save_loop(client, doc: str, n: int) -> tuple[list[float], list[float]]:
    """Open the editor, append a line, save; then view the history (HEAD just moved)."""
    import html

    folder, _, rest = doc.partition("/")
    edit_url, history_url = f"/edit/{folder}/{rest[:-3]}", f"/history/{folder}/{rest[:-3]}"
    saves, after = [], []
    for i in range(n):
        page = client.get(edit_url).text
        form = page.split('class="manage"')[0]
        fields = {k: html.unescape(v) for k, v in re.findall(
            r'<input (?:type="hidden" )?name="(\w+)" value="([^"]*)"', form)}
        body = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', form, re.S).group(1)
        fields.update(body=html.unescape(body) + f"\nBenchmark line {i}.\n",
                      message="Benchmark edit")
        for name, value in re.findall(r'<select name="(\w+)">.*?<option value="(\w+)" selected',
                                      form, re.S):
            fields[name] = value
        start = time.perf_counter()
        res = client.post(edit_url, data=fields)
        saves.append(time.perf_counter() - start)
        assert res.status_code == 302, (res.status_code, res.text[:2000])
        start = time.perf_counter()
        assert client.get(history_url).status_code == 200
        after.append(time.perf_counter() - start)
    return saves, after


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", type=Path, default=ROOT / "bench/out/history-repo")
    ap.add_argument("--doc", default=TARGET)
    ap.add_argument("--n", type=int, default=30)
    a = ap.parse_args()
    if not (a.repo / ".git").exists():
        a.repo.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(GEN), str(a.repo), "--n", "6000", "--git",
                        "--revisions", "10000"], check=True)
    commits = int(subprocess.run(["git", "-C", str(a.repo), "rev-list", "--count", "HEAD"],
                                 capture_output=True, text=True, check=True).stdout)

    from app import create_app
    from app.accounts.auth import add_user
    from app.db import connect

    data = Path(tempfile.mkdtemp(prefix="bench-history-"))
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789",
                      "KB_DATA_DIR": str(data), "KB_CONTENT_DIR": str(a.repo),
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    db = connect(app.config["DATABASE"])
    add_user(db, "bench", "bench-password-123", "editor")
    db.close()
    client = app.test_client()
    client.post("/login", data={"username": "bench", "password": "bench-password-123"})
    folder, _, rest = a.doc.partition("/")
    slug = rest[:-3]
    url_kind = folder
    history_url = f"/history/{url_kind}/{slug}"

    def get(url: str) -> None:
        res = client.get(url)
        assert res.status_code == 200, (url, res.status_code)

    start = time.perf_counter()
    get(history_url)
    cold = time.perf_counter() - start
    revisions = int(re.search(r"(\d+) revisions", client.get(history_url).text).group(1))
    pages = -(-revisions // 50)

    print(f"repository: {commits} commits; {a.doc}: {revisions} revisions ({pages} pages)")
    print(f"history page, first view (cold cache): {cold * 1000:.1f} ms")
    print(f"history page 1 (cached)          {ms(timed(lambda: get(history_url), a.n))}")
    deep = f"{history_url}?page={pages // 2}"
    print(f"history page {pages // 2:<4} (cached)       {ms(timed(lambda: get(deep), a.n))}")
    print(f"document page                    {ms(timed(lambda: get('/' + a.doc[:-3]), a.n))}")
    diff_url = f"/diff/{url_kind}/{slug}"
    print(f"diff (latest change, rendered)   {ms(timed(lambda: get(diff_url), a.n))}")

    small = next(p for p in sorted((a.repo / "policies").rglob("*.md"))
                 if p.stat().st_size < 8000).relative_to(a.repo).as_posix()
    for label, doc in (("long document", a.doc), ("typical document", small)):
        saves, after = save_loop(client, doc, a.n)
        size = (a.repo / doc).stat().st_size
        print(f"save, {label} ({size // 1000} kB)".ljust(33) + ms(saves))
        print("history page after that commit".ljust(33) + ms(after))
    changes = f"/changes/{url_kind}/{slug}"
    client.post("/logout")
    start = time.perf_counter()
    get(changes)
    print(f"public changelog of the document, first view: "
          f"{(time.perf_counter() - start) * 1000:.1f} ms")
    print(f"public changelog (cached)        {ms(timed(lambda: get(changes), a.n))}")
    start = time.perf_counter()
    get("/changes")
    print(f"site-wide What changed, first view: {(time.perf_counter() - start) * 1000:.1f} ms")
    print(f"What changed (cached)            {ms(timed(lambda: get('/changes'), a.n))}")
    client.post("/login", data={"username": "bench", "password": "bench-password-123"})
    after_commit = []
    for _ in range(10):
        save_loop(client, small, 1)
        start = time.perf_counter()
        get("/changes")
        after_commit.append(time.perf_counter() - start)
    print(f"What changed after a new commit  {ms(after_commit)}")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
