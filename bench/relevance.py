"""Relevance of search, measured: judgement lists run through the real search API.

A judgement list is a TSV file: a query, a tab, then a fragment of the path of the page a
person would want (any result whose URL holds it counts; ``#`` lines are comments).  More
tab-separated fragments name other pages or sections that answer the question just as well
(the FAQ and the policy section saying the same thing): MRR counts the first right answer,
and a strict figure, counting only the first fragment, is printed beside it.  Each
list runs against a content repository (a folder, or a ``.tar.gz`` of one, made a git
repository in a temporary folder), through ``GET /api/search?q=&limit=5`` signed in as an
agent.  The script prints MRR@5, recall@5 and every miss with its top 3, and the same
figures for an SQLite FTS5 baseline computed in the same run over the same documents
(porter stemming, BM25, title weighted x5, the query's words OR-ed).

    .venv/bin/python bench/relevance.py                 # the bundled lists and the 18F handbook
    .venv/bin/python bench/relevance.py --list CONTENT QUERIES.tsv [QUERIES.tsv ...]
    .venv/bin/python bench/relevance.py --baseline 4386435   # and that commit's code, same lists

``--baseline REV`` checks REV out into a temporary git worktree (its code and its bundled
content, synonyms included), runs this script and these lists there in a subprocess, and
prints both figures side by side.  The misses of the blind list are never printed: it
stays a list nobody tuned against.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.accounts.auth import add_user  # noqa: E402
from app.content.audience import STAFF, project  # noqa: E402
from app.content.store import store  # noqa: E402
from app.db import connect  # noqa: E402
from app.search.index import plain  # noqa: E402

SHARED = ROOT.parent / "shared" / "relevance"
HERE = Path(__file__).resolve().parent / "relevance"
DEFAULT_LISTS = [
    ("bundled", ROOT / "content", [HERE / "bundled.tsv"]),
    # Written blind from the content, without the search or synonyms.yml (see its header).
    ("held-out", ROOT / "content", [HERE / "bundled-heldout.tsv"]),
    # Written blind too, later, and never used to tune: the honest figure for the bundled content.
    ("blind", ROOT / "content", [HERE / "bundled-blind.tsv"]),
    ("18f", SHARED / "18f-handbook.tar.gz", [SHARED / "18f-queries.tsv"]),
    ("18f+ours", SHARED / "18f-handbook.tar.gz", [SHARED / "18f-queries.tsv",
                                                  HERE / "18f-extra.tsv"]),
]
K = 5
BLIND = {"blind"}  # lists whose misses are not printed
FIGURES_RE = re.compile(r"^(\S+)\s+(portal|fts5)\s+MRR@\d+ ([\d.]+)\s+recall@\d+ ([\d.]+)", re.M)
PASSWORD = secrets.token_urlsafe(16)  # a throwaway account of the temporary portal


Judgement = tuple[str, list[str]]  # a query, and the fragments of its right answers


def judgements(paths: list[Path]) -> list[Judgement]:
    out = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                query, *fragments = line.split("\t")
                out.append((query.strip(), [f.strip() for f in fragments if f.strip()]))
    return out


def repository(source: Path, into: Path) -> Path:
    """A git repository of ``source`` (a folder or a .tar.gz) in ``into``."""
    target = into / "content"
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        target.mkdir()
        with tarfile.open(source) as archive:
            archive.extractall(target, filter="data")
    git = ["git", "-C", str(target)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "user.name=Bench", "-c", "user.email=bench@example.com",
                    "commit", "-q", "-m", "Content"], check=True)
    return target


def fts5_baseline(docs) -> callable:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE pages USING fts5(url UNINDEXED, title, body, "
               "tokenize='porter unicode61')")
    for doc in docs:
        shown = project(doc, viewer=STAFF)
        if shown is not None:
            db.execute("INSERT INTO pages VALUES (?, ?, ?)",
                       (shown.url, shown.title, plain(shown.body)))

    def search(query: str) -> list[str]:
        words = re.findall(r"\w+", query.lower())
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        rows = db.execute("SELECT url FROM pages WHERE pages MATCH ? "
                          "ORDER BY bm25(pages, 0.0, 5.0, 1.0) LIMIT ?", (match, K))
        return [url for (url,) in rows]

    return search


def first_right(urls: list[str], fragments: list[str]) -> int | None:
    return next((i for i, url in enumerate(urls, 1) if any(f in url for f in fragments)), None)


def score(pairs: list[Judgement], search) -> tuple[float, float, float, list]:
    """MRR@K and recall@K over every right answer, strict MRR@K (the first fragment only),
    and the queries whose first result is not a right answer."""
    reciprocal, strict, found, misses = 0.0, 0.0, 0, []
    for query, fragments in pairs:
        urls = search(query)[:K]
        rank = first_right(urls, fragments)
        if rank:
            reciprocal += 1 / rank
            found += 1
        if first := first_right(urls, fragments[:1]):
            strict += 1 / first
        if rank != 1:
            misses.append((query, fragments[0], rank, urls[:3]))
    n = len(pairs) or 1
    return reciprocal / n, found / n, strict / n, misses


def run(label: str, source: Path, lists: list[Path], show_misses: bool = True) -> dict:
    pairs = judgements(lists)
    with tempfile.TemporaryDirectory(prefix="relevance-") as tmp:
        content = repository(source, Path(tmp))
        app = create_app({"TESTING": True, "SECRET_KEY": "relevance-bench-" + "k" * 16,
                          "KB_DATA_DIR": str(Path(tmp) / "data"),
                          "KB_CONTENT_DIR": str(content), "RATELIMIT_ENABLED": False,
                          "WTF_CSRF_ENABLED": False})
        db = connect(app.config["DATABASE"])
        add_user(db, "bench", PASSWORD, "agent")
        db.close()
        client = app.test_client()
        client.post("/login", data={"username": "bench", "password": PASSWORD})

        def portal(query: str) -> list[str]:
            res = client.get("/api/search", query_string={"q": query, "limit": K})
            assert res.status_code == 200, (query, res.status_code)
            return [r["url"] for r in res.get_json()["results"]]

        with app.app_context():
            baseline = fts5_baseline(store().all())
        figures = {}
        for engine, search in (("portal", portal), ("fts5", baseline)):
            mrr, recall, strict, misses = score(pairs, search)
            figures[engine] = (mrr, recall, strict)
            print(f"{label:8} {engine:6}  MRR@{K} {mrr:.3f}  recall@{K} {recall:.3f}  "
                  f"strict MRR@{K} {strict:.3f}  ({len(pairs)} queries)")
            if show_misses and engine == "portal":
                for query, fragment, rank, top in misses:
                    where = f"at {rank}" if rank else "missed"
                    print(f"    {where:8} {query!r} -> {fragment}")
                    for url in top:
                        print(f"             {url}")
    return figures


def at_revision(rev: str, extra: list[str]) -> dict[tuple[str, str], tuple[float, float]]:
    """(list, engine) -> (MRR, recall) of the code at ``rev``, with today's script and lists."""
    with tempfile.TemporaryDirectory(prefix="relevance-base-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree),
                        rev], check=True)
        try:
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
            shutil.copy(Path(__file__), tree / "bench" / "relevance.py")
            shutil.copytree(HERE, tree / "bench" / "relevance", dirs_exist_ok=True)
            out = subprocess.run([sys.executable, str(tree / "bench" / "relevance.py"), "--quiet",
                                  *extra], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                                 capture_output=True, text=True, check=True).stdout
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False)
    return {(m[1], m[2]): (float(m[3]), float(m[4])) for m in FIGURES_RE.finditer(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", nargs="+", metavar=("CONTENT", "QUERIES"),
                        help="a content folder or .tar.gz, then judgement lists")
    parser.add_argument("--quiet", action="store_true", help="figures only, no misses")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run these lists against the code at this git revision")
    args = parser.parse_args()
    print(f"# bench/relevance.py, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    lists = ([("custom", Path(args.list[0]).resolve(), [Path(p).resolve() for p in args.list[1:]])]
             if args.list else DEFAULT_LISTS)
    now = {}
    for label, source, files in lists:
        figures = run(label, source, files, show_misses=not args.quiet and label not in BLIND)
        now.update({(label, engine): f[:2] for engine, f in figures.items()})
    if args.baseline:
        extra = ["--list", str(lists[0][1]), *map(str, lists[0][2])] if args.list else []
        before = at_revision(args.baseline, extra)
        print(f"\nMRR@{K} / recall@{K}, the code at {args.baseline} and now (same lists):")
        for (label, engine), (mrr, recall) in now.items():
            if engine == "portal" and (label, engine) in before:
                old = before[(label, engine)]
                print(f"  {label:8}  {old[0]:.3f} / {old[1]:.3f}  ->  {mrr:.3f} / {recall:.3f}"
                      f"   ({mrr - old[0]:+.3f})")


if __name__ == "__main__":
    main()
