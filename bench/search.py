"""Search benchmark: build time, index size, JSON API and page latency at 1,000 and 10,000 docs.

    .venv/bin/python bench/search.py            # both sizes
    .venv/bin/python bench/search.py --sizes 1000 --requests 100

For each size it generates a deterministic corpus with ``../shared/bench/gen_corpus.py``
(a git repository), rebuilds the index with ``flask --app wsgi kb reindex`` (timed), starts
gunicorn (2 workers, as in tests/live.py) and measures p50/p95 of sequential requests over
HTTP (keep-alive) for each query class, plus a document page view.  Repeating one query
over HTTP measures the per-worker answer cache after the first request; the same queries
are also timed in-process with that cache off, which is what a query nobody asked since
the last index change costs.  Output in bench/out/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import LiveServer  # noqa: E402

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


def in_force_public(path: Path) -> bool:
    """A public page customers can open today (not one whose effective date is ahead)."""
    text = path.read_text()
    match = re.search(r"^effective: (\S+)$", text, re.M)
    return "audience: public" in text and (not match or match.group(1) <= date.today().isoformat())


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def uncached(env: dict, requests: int) -> dict[str, tuple[float, float]]:
    """p50/p95 of ``SearchService.search`` per query with the answer cache off (in-process,
    Flask app as a worker runs it, no HTTP).  The caches of record fields, snippets and
    the lexicon's prefixes are emptied before each query too: the worst case,
    where an index write rewrote every record the query finds."""
    os.environ.update(env)
    from app import create_app
    from app.caching.lru import SizedLRU
    from app.content.audience import PUBLIC
    from app.search import query as search_query
    from app.search import results as search_results
    from app.search.service import service

    app = create_app()
    out = {}
    with app.test_request_context():
        svc = service()
        svc._answers = SizedLRU(max_items=0, max_bytes=0, size_of=lambda _a: 1)
        for label, q in QUERIES.items():
            for _ in range(3):
                svc.search(q, PUBLIC)
            times, cpu = [], []
            for _ in range(requests):
                search_results._SNIPPETS.clear()
                search_query._PREFIXES.clear()
                start, start_cpu = time.perf_counter(), time.process_time()
                svc.search(q, PUBLIC)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            # CPU time (this process, all its threads) is what a query costs on an idle
            # core; on a shared machine the wall time also counts the waits for a core.
            out[label] = (statistics.median(times), percentile(times, 95),
                          statistics.median(cpu), percentile(cpu, 95))
    return out


def run(size: int, requests: int) -> dict:
    base = OUT / f"n{size}"
    shutil.rmtree(base, ignore_errors=True)
    content, data = base / "content", base / "data"
    data.mkdir(parents=True)
    subprocess.run([sys.executable, str(GEN), str(content), "--n", str(size), "--git"],
                   check=True, capture_output=True)
    env = {**os.environ, "KB_DATA_DIR": str(data), "KB_CONTENT_DIR": str(content),
           "SECRET_KEY": "bench-secret-key-0123456789abcdef"}
    flask = str(Path(sys.executable).with_name("flask"))
    start = time.perf_counter()
    subprocess.run([flask, "--app", "wsgi", "kb", "reindex"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    build = time.perf_counter() - start
    report = {"documents": size, "build_seconds": round(build, 2),
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
    for label, (p50, p95, c50, c95) in uncached(env, max(20, requests // 4)).items():
        report["queries"][label].update(uncached_p50_ms=round(p50, 1),
                                        uncached_p95_ms=round(p95, 1),
                                        cpu_p50_ms=round(c50, 1), cpu_p95_ms=round(c95, 1))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"# bench/search.py, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(a shared machine: other work runs beside the benchmark)")
    reports = [run(n, args.requests) for n in args.sizes]
    for rep in reports:
        print(f"\n{rep['documents']:,} documents: build {rep['build_seconds']} s, "
              f"index {rep['index_mb']} MB")
        print(f"  {'query':32} {'p50 ms':>8} {'p95 ms':>8} {'hits':>6}   uncached p50 / p95"
              "   (CPU p50 / p95)")
        for label, row in rep["queries"].items():
            print(f"  {label:32} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['count']:>6}   "
                  f"{row['uncached_p50_ms']} / {row['uncached_p95_ms']}   "
                  f"({row['cpu_p50_ms']} / {row['cpu_p95_ms']})")
        pv = rep["page_view"]
        print(f"  {'page view ' + pv['path'][:20]:32} {pv['p50_ms']:>8} {pv['p95_ms']:>8}")
    (OUT / "search.json").write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
