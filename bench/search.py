"""Search benchmark: build time, index size, JSON API and in-process latency at 1,000 and
10,000 documents, with the issue's goals, and the same measurements of a baseline revision.

    .venv/bin/python bench/search.py                      # both sizes, this tree
    .venv/bin/python bench/search.py --sizes 1000 --requests 100
    .venv/bin/python bench/search.py --baseline main      # and main, in the same run
    .venv/bin/python bench/search.py --sizes 10000 --requests 30 --baseline main --rounds 8

For each size it generates a deterministic corpus with ``../shared/bench/gen_corpus.py``
(a git repository), then, for this tree and for ``--baseline REV`` (checked out into a
temporary ``git worktree``), runs a child process with ``PYTHONPATH`` pointing at that tree
which:

- rebuilds the index with ``flask --app wsgi kb reindex`` (timed; with ``--baseline``, again
  in every round, and the build figure is the median);
- starts gunicorn (2 workers, as in tests/live.py) and measures p50/p95 of sequential
  keep-alive requests per query class (the per-worker answer cache serves all but the
  first), then "as you type": queries typed letter by letter, every request a prefix
  asked for the first time (so never a cached answer), and a document page view;
- commits a new page to the content repository and times how long until every worker
  finds it (a save searchable everywhere);
- times each query class in-process with the answer cache off (``uncached``).

Both trees get the same corpus (each its own copy and data directory), one after the
other.  A shared machine's speed drifts over minutes, so with ``--baseline`` the in-process
timings are then taken ``--rounds`` more times (default 8), in fresh processes alternating
between the trees (``now``, ``baseline``, ``baseline``, ``now``, ...), and each class's
p50 and p95 are the medians over every round: the ratios compare code measured side by
side.  Results go to bench/out/search.json.
"""

from __future__ import annotations

import argparse
import http.client
import inspect
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
# The child measures the tree it was started for (``--code``): imports come from there.
CODE = Path(os.environ.get("BENCH_CODE", ROOT))
sys.path.insert(0, str(CODE))

GEN = ROOT.parent / "shared" / "bench" / "gen_corpus.py"
OUT = ROOT / "bench" / "out"
QUERIES = {
    "one word (1 doc)": "xylophonic",
    "one word (every doc)": "customer",
    "two words": "refund delivery",
    "phrase": '"delivery address"',
    "typo": "custmer refnud",
    "word being typed": "deliv",
    "no hit (internal-only word)": "zanzibarian",
    "question (six words)": "can I get my money back after delivery",
}
GOAL_CLASSES = [k for k in QUERIES if not k.startswith("no hit")]
GOAL_P50, GOAL_P95, GOAL_TYPING_P95, GOAL_BUILD, GOAL_FRESH = 5.0, 15.0, 20.0, 10.0, 1.0
# Typed letter by letter over HTTP: every prefix is a new query for both workers.
TYPED = ["refund delivery address", "customer account ownership", "warranty claim deadline",
         "goodwill credit manager", "proof of purchase", "logistics partner notify",
         "identity verification", "billing history record", "business support",
         "regulated market consent", "order number promise", "escalate the refund amount",
         "original payment method", "warehouse review"]
FRESH_WORD = "quokkafreshness"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    conn.request("GET", path)
    res = conn.getresponse()
    body = res.read()
    elapsed = (time.perf_counter() - start) * 1000
    if res.status != 200:
        raise RuntimeError(f"{path}: HTTP {res.status}")
    return elapsed, body


def measure(conn, path: str, n: int) -> tuple[float, float, bytes]:
    for _ in range(5):  # warm-up: both workers, caches
        timed_get(conn, path)
    times, body = [], b""
    for _ in range(n):
        elapsed, body = timed_get(conn, path)
        times.append(elapsed)
    return statistics.median(times), percentile(times, 95), body


def typing(port: int) -> tuple[float, float, int]:
    """p50/p95 of as-you-type requests, each prefix asked once, on new connections (the
    workers share them out as a browser's requests would be)."""
    prefixes = [t[:i] for t in TYPED for i in range(1, len(t) + 1) if t[i - 1] != " "]
    times = []
    for path in (f"/api/search?q={quote(p)}&limit=8&sections=1" for p in prefixes):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        times.append(timed_get(conn, path)[0])
        conn.close()
    return statistics.median(times), percentile(times, 95), len(times)


def freshness(port: int, content: Path) -> float:
    """Seconds from an outside commit of a new public page until 8 requests in a row, each
    on a new connection, find it."""
    page = content / "faq" / "bench-freshness.md"
    page.write_text(f"---\ntitle: Bench freshness\nsummary: A {FRESH_WORD} page.\n"
                    "audience: public\nowner: bench@example.com\ntags: [faq]\n"
                    "effective: 2026-01-01\nreview_by: 2027-12-01\n---\n"
                    f"The {FRESH_WORD} page.\n")
    git = ["git", "-C", str(content), "-c", "user.name=bench", "-c", "user.email=b@example.com"]
    subprocess.run([*git, "add", "-A"], check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run([*git, "commit", "-qm", "bench freshness"], check=True, capture_output=True)
    found = 0
    while found < 8 and time.perf_counter() - start < 30:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _t, body = timed_get(conn, f"/api/search?q={FRESH_WORD}")
        conn.close()
        found = found + 1 if json.loads(body)["count"] else 0
        if not found:
            time.sleep(0.02)
    return time.perf_counter() - start


def in_force_public(path: Path) -> bool:
    """A public page customers can open today (not one whose effective date is ahead)."""
    text = path.read_text()
    match = re.search(r"^effective: (\S+)$", text, re.M)
    return "audience: public" in text and (not match or match.group(1) <= date.today().isoformat())


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def uncached(requests: int) -> dict[str, tuple[float, ...]]:
    """p50/p95 (wall, then CPU) of ``SearchService.search`` per query with the answer cache
    off (in-process, Flask app as a worker runs it, no HTTP), then p50/p95 (wall) of the
    answer the list shown while typing asks for (8 results, one section each: see
    ``static/js/search.js``; a tree without ``sections`` gives its full answer, which is
    what its list got).  The caches of snippets and of the lexicon's prefixes are emptied
    before each query too: the worst case, where an index write rewrote every record the
    query finds."""
    from app import create_app
    from app.caching.lru import SizedLRU
    from app.content.audience import PUBLIC
    from app.search import query as search_query
    from app.search import results as search_results
    from app.search.service import service

    emptied = [c for c in (getattr(search_results, "_SNIPPETS", None),
                           getattr(search_query, "_PREFIXES", None)) if c is not None]
    app = create_app()
    out = {}
    with app.test_request_context():
        svc = service()
        svc._answers = SizedLRU(max_items=0, max_bytes=0, size_of=lambda _a: 1)
        listed = ({"limit": 8, "sections": 1}
                  if "sections" in inspect.signature(svc.search).parameters else {"limit": 8})
        for label, q in QUERIES.items():
            for _ in range(3):
                svc.search(q, PUBLIC)
                svc.search(q, PUBLIC, **listed)
            times, cpu, typing_list = [], [], []
            for _ in range(requests):
                for cache in emptied:
                    cache.clear()
                start, start_cpu = time.perf_counter(), time.process_time()
                svc.search(q, PUBLIC)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
                for cache in emptied:
                    cache.clear()
                start = time.perf_counter()
                svc.search(q, PUBLIC, **listed)
                typing_list.append((time.perf_counter() - start) * 1000)
            # CPU time (this process, all its threads) is what a query costs on an idle
            # core; on a shared machine the wall time also counts the waits for a core.
            out[label] = (statistics.median(times), percentile(times, 95),
                          statistics.median(cpu), percentile(cpu, 95),
                          statistics.median(typing_list), percentile(typing_list, 95))
    return out


def uncached_report(requests: int) -> dict:
    return {label: {"uncached_p50_ms": round(p50, 2), "uncached_p95_ms": round(p95, 2),
                    "cpu_p50_ms": round(c50, 2), "cpu_p95_ms": round(c95, 2),
                    "list_p50_ms": round(l50, 2), "list_p95_ms": round(l95, 2)}
            for label, (p50, p95, c50, c95, l50, l95)
            in uncached(max(20, requests // 4)).items()}


def child(size: int, content: Path, data: Path, requests: int, only_uncached: bool = False) -> dict:
    """Every measurement of one tree (``CODE``) over one corpus: run in its own process
    (``only_uncached``: the in-process timings alone, on an index built before)."""
    from tests.live import LiveServer

    env = {**os.environ, "KB_DATA_DIR": str(data), "KB_CONTENT_DIR": str(content),
           "SECRET_KEY": "bench-secret-key-0123456789abcdef"}
    os.environ.update(env)
    flask = str(Path(sys.executable).with_name("flask"))
    start = time.perf_counter()  # a full build (each round rebuilds over the last index)
    subprocess.run([flask, "--app", "wsgi", "kb", "reindex"], cwd=CODE, env=env, check=True,
                   capture_output=True)
    build = round(time.perf_counter() - start, 2)
    if only_uncached:
        return {"build_seconds": build, "queries": uncached_report(requests)}
    report = {"documents": size, "build_seconds": build,
              "index_mb": round(dir_size(data / "index") / 1e6, 1), "queries": {}}
    with LiveServer(data, content, workers=2) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for label, q in QUERIES.items():
            p50, p95, body = measure(conn, f"/api/search?q={quote(q)}&limit=10", requests)
            count = json.loads(body)["count"]
            report["queries"][label] = {"q": q, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                                        "count": count}
        doc = next(p for p in sorted((content / "faq").glob("*.md")) if in_force_public(p))
        page = "/faq/" + doc.stem
        p50, p95, _ = measure(conn, page, requests)
        report["page_view"] = {"path": page, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
        conn.close()
        p50, p95, n = typing(server.port)
        report["typing"] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "requests": n}
        report["fresh_seconds"] = round(freshness(server.port, content), 2)
    for label, row in uncached_report(requests).items():
        report["queries"][label].update(row)
    return report


def run_child(tree: Path, size: int, base: Path, requests: int, *extra: str) -> dict:
    env = {**os.environ, "BENCH_CODE": str(tree), "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(size),
                          str(base / "content"), str(base / "data"), "--requests",
                          str(requests), *extra],
                         cwd=tree, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_tree(tree: Path, size: int, corpus: Path, base: Path, requests: int) -> dict:
    """Run ``child`` for ``tree`` in a subprocess (its own imports, its own copy)."""
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(corpus, base / "content", symlinks=True)
    (base / "data").mkdir(parents=True)
    return run_child(tree, size, base, requests)


def more_rounds(trees: list[tuple[Path, Path, dict]], size: int, requests: int,
                rounds: int) -> None:
    """Take the in-process timings ``rounds`` more times per tree, alternating trees (each
    round reverses the order), and keep each figure's median over all rounds."""
    seen = [[rep] for _tree, _base, rep in trees]
    for n in range(rounds):
        order = list(enumerate(trees))[::-1 if n % 2 == 0 else 1]
        for i, (tree, base, _rep) in order:
            seen[i].append(run_child(tree, size, base, requests, "--only-uncached"))
    for (_tree, _base, rep), runs in zip(trees, seen, strict=True):
        builds = [r["build_seconds"] for r in runs]
        for label, row in rep["queries"].items():
            for key in UNCACHED_KEYS:
                row[key] = round(statistics.median(r["queries"][label][key] for r in runs), 2)
        rep.update(uncached_rounds=len(runs), builds=builds,
                   build_seconds=round(statistics.median(builds), 2))


UNCACHED_KEYS = ("uncached_p50_ms", "uncached_p95_ms", "cpu_p50_ms", "cpu_p95_ms",
                 "list_p50_ms", "list_p95_ms")


def ok(value: float, goal: float) -> str:
    return "met" if value <= goal else "NOT met"


def ratio(now: float, then: float | None) -> str:
    return f"{then / now:5.1f}x" if then and now else "   - "


def show(rep: dict, old: dict | None) -> None:
    o = old or {}
    spread = (f"median of {len(rep['builds'])}, {min(rep['builds'])}-{max(rep['builds'])} s; "
              if len(rep.get("builds", ())) > 1 else "")
    print(f"\n{rep['documents']:,} documents: build {rep['build_seconds']} s ({spread}"
          f"{ok(rep['build_seconds'], GOAL_BUILD)}, goal {GOAL_BUILD:g} s)"
          + (f"; baseline {o['build_seconds']} s, {ratio(rep['build_seconds'], o['build_seconds'])}"
             " faster" if old else "")
          + f"; index {rep['index_mb']} MB" + (f" (baseline {o['index_mb']} MB)" if old else ""))
    print(f"  {'query':30} {'HTTP p50/p95':>13} {'hits':>6}  {'uncached p50 / p95 ms':>22}"
          f"  {'CPU p50 / p95':>14}  {'baseline p50 / p95':>19} {'ratio p50/p95':>14}  goal"
          f"  {'typing list p50 / p95':>22} {'baseline':>13} {'ratio':>6}  goal")

    def goal(label: str, p50: float | None, p95: float | None) -> str:
        if label not in GOAL_CLASSES or p50 is None or p95 is None:
            return ""
        return "met" if p50 <= GOAL_P50 and p95 <= GOAL_P95 else "NOT met"

    for label, row in rep["queries"].items():
        b = o.get("queries", {}).get(label, {})
        un = f"{row['uncached_p50_ms']:.2f} / {row['uncached_p95_ms']:.2f}"
        base = f"{b['uncached_p50_ms']:.2f} / {b['uncached_p95_ms']:.2f}" if b else "-"
        ls = f"{row.get('list_p50_ms', 0):.2f} / {row.get('list_p95_ms', 0):.2f}"
        lb = f"{b['list_p50_ms']:.2f} / {b['list_p95_ms']:.2f}" if "list_p50_ms" in b else "-"
        print(f"  {label:30} {row['p50_ms']:>5} / {row['p95_ms']:<5} {row['count']:>6}  {un:>22}"
              f"  {row['cpu_p50_ms']:>5.2f} / {row['cpu_p95_ms']:<6.2f}  {base:>19} "
              f"{ratio(row['uncached_p50_ms'], b.get('uncached_p50_ms'))} "
              f"{ratio(row['uncached_p95_ms'], b.get('uncached_p95_ms'))}  "
              f"{goal(label, row['uncached_p50_ms'], row['uncached_p95_ms']):7}"
              f"  {ls:>22} {lb:>13} {ratio(row.get('list_p50_ms', 0), b.get('list_p50_ms'))}"
              f"  {goal(label, row.get('list_p50_ms'), row.get('list_p95_ms'))}")
    pv, ty = rep["page_view"], rep["typing"]
    print(f"  {'page view ' + pv['path'][:20]:30} {pv['p50_ms']:>5} / {pv['p95_ms']:<5}")
    bt = o.get("typing")
    print(f"  HTTP as you type ({ty['requests']} prefixes, each new): p50 {ty['p50_ms']} ms, "
          f"p95 {ty['p95_ms']} ms ({ok(ty['p95_ms'], GOAL_TYPING_P95)}, goal p95 "
          f"{GOAL_TYPING_P95:g} ms)" + (f"; baseline {bt['p50_ms']} / {bt['p95_ms']} ms, "
                                       f"ratio p95 {ratio(ty['p95_ms'], bt['p95_ms'])}"
                                       if bt else ""))
    print(f"  a commit searchable from every worker after {rep['fresh_seconds']} s "
          f"({ok(rep['fresh_seconds'], GOAL_FRESH)}, goal {GOAL_FRESH:g} s)"
          + (f"; baseline {o['fresh_seconds']} s" if old else ""))
    rounds = rep.get("uncached_rounds", 1)
    print("  (uncached = in-process, answer cache off, wall time; typing list = the answer the"
          " list shown while typing asks for: 8 results, one section each"
          + (f"; medians of {rounds} rounds per tree, alternating" if rounds > 1 else "")
          + "; ratio = baseline / now)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    parser.add_argument("--rounds", type=int, default=8,
                        help="with --baseline: more in-process rounds per tree, alternating")
    parser.add_argument("--child", nargs=3, metavar=("SIZE", "CONTENT", "DATA"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--only-uncached", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, content, data = args.child
        print(json.dumps(child(int(size), Path(content), Path(data), args.requests,
                               args.only_uncached)))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"# bench/search.py, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(a shared machine: other work runs beside the benchmark)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    baseline = None
    try:
        if args.baseline:
            rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short",
                                  args.baseline], check=True, capture_output=True,
                                 text=True).stdout.strip()
            baseline = tmp / f"baseline-{rev}"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach",
                            str(baseline), rev], check=True, capture_output=True)
            print(f"# baseline: {args.baseline} ({rev}), in a temporary worktree")
        now = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        print(f"# now: {now} (working tree of {ROOT})")
        reports = []
        for size in args.sizes:
            corpus = OUT / f"n{size}" / "corpus"
            shutil.rmtree(corpus, ignore_errors=True)
            subprocess.run([sys.executable, str(GEN), str(corpus), "--n", str(size), "--git"],
                           check=True, capture_output=True)
            rep = measure_tree(ROOT, size, corpus, OUT / f"n{size}" / "now", args.requests)
            old = (measure_tree(baseline, size, corpus, OUT / f"n{size}" / "baseline",
                                args.requests) if baseline else None)
            if old is not None and args.rounds > 0:
                more_rounds([(ROOT, OUT / f"n{size}" / "now", rep),
                             (baseline, OUT / f"n{size}" / "baseline", old)],
                            size, args.requests, args.rounds)
            show(rep, old)
            reports.append({"now": rep, "baseline": old})
        (OUT / "search.json").write_text(json.dumps(reports, indent=2))
    finally:
        if baseline is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(baseline)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
