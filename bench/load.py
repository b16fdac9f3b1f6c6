"""Mixed agent workload against gunicorn on loopback: throughput, p50/p95/p99, errors.

    .venv/bin/python bench/load.py                  # start gunicorn on the bundled content
    .venv/bin/python bench/load.py --seconds 20 --clients 2x8
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000   # an already running server

Bounded: it runs for ``--seconds`` or until ``--max-requests``, whichever comes first, and
talks to loopback addresses only.  The load generator runs in separate processes (threads
with keep-alive ``http.client`` connections) so it does not share a GIL with the server.

The mix is a table (``SLICES``): 70 % page views, 25 % search-as-you-type, 5 % saves.  A
slice whose endpoint does not exist yet is skipped with a note and its share goes to page
views; adding the real request later is one function.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGENT = ("bench-agent", "bench agent password")
QUERIES = ["refund", "return label", "shipping time", "invoice", "escalat", "complaint",
           "goodwill credit", "privacy request", "exchange", "damaged item", "late delivery"]


# -- one persistent connection per client thread -------------------------------------------
class Client:
    def __init__(self, base: str, signed_in: bool):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        self.cookies: dict[str, str] = {}
        if signed_in:
            self.login()

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                res = self.conn.getresponse()
                payload = res.read()
                break
            except (OSError, http.client.HTTPException):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
                if attempt == 2:
                    raise
        for header, value in res.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return res.status, payload

    def login(self) -> None:
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/login", {"username": AGENT[0], "password": AGENT[1],
                                                    "csrf_token": token.decode()})
        if status != 302:
            raise RuntimeError(f"bench login failed: {status}")


# -- the workload mix ----------------------------------------------------------------------
@dataclass
class Slice:
    name: str
    weight: float
    # (client, rng, pages) -> (status, ok); None until the endpoint exists
    run: Callable | None
    note: str = ""


def page_view(client: Client, rng: random.Random, pages: list[str]) -> tuple[int, bool]:
    status, body = client.request("GET", rng.choice(pages))
    return status, status == 200 and b"</html>" in body


def search_request(path: str) -> Callable:
    def run(client: Client, rng: random.Random, pages: list[str]) -> tuple[int, bool]:
        # Search-as-you-type: the query grows one keystroke at a time.
        query = rng.choice(QUERIES)
        query = query[: rng.randint(2, len(query))]
        status, _ = client.request("GET", path + quote(query))
        return status, status == 200
    return run


def discover(base: str) -> tuple[list[Slice], list[str]]:
    """Probe the server for what exists; returns the mix and the page URLs to read."""
    client = Client(base, signed_in=False)
    _, sitemap = client.request("GET", "/sitemap.xml")
    pages = ["/"] + [urlsplit(u).path for u in
                     re.findall(r"<loc>([^<]+)</loc>", sitemap.decode())]
    search = None
    for path in ("/api/search?q=", "/search?q="):
        if client.request("GET", path + "refund")[0] == 200:
            search = Slice("search", 0.25, search_request(path), f"GET {path}…")
            break
    if search is None:
        search = Slice("search", 0.25, None, "skipped: no /api/search or /search endpoint yet")
    # Saves need the edit endpoint (history/editing work); plug its request in here.
    saves = Slice("save", 0.05, None, "skipped: no edit endpoint yet")
    views = Slice("page view", 0.70, page_view, f"GET one of {len(pages)} pages")
    return [views, search, saves], pages


# -- client processes ----------------------------------------------------------------------
def client_process(base: str, threads: int, deadline: float, budget: int, seed: int,
                   mix: list[tuple[str, float]], pages: list[str], out: mp.Queue) -> None:
    slices, _ = discover(base)
    runners = {s.name: s.run for s in slices}
    names = [name for name, _ in mix]
    weights = [weight for _, weight in mix]
    results: list[tuple[str, float, bool, int]] = []
    lock = threading.Lock()
    count = [0]

    def loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = Client(base, signed_in=index % 2 == 0)  # half the agents are signed in
        local = []
        while time.monotonic() < deadline:
            with lock:
                if count[0] >= budget:
                    break
                count[0] += 1
            name = rng.choices(names, weights)[0]
            start = time.perf_counter()
            try:
                status, ok = runners[name](client, rng, pages)
            except (OSError, http.client.HTTPException):
                status, ok = 0, False
            local.append((name, time.perf_counter() - start, ok, status))
        with lock:
            results.extend(local)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    out.put(results)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run_load(base: str, seconds: float, processes: int, threads: int,
             max_requests: int, quiet: bool = False) -> dict:
    slices, pages = discover(base)
    active = [s for s in slices if s.run is not None]
    skipped = [s for s in slices if s.run is None]
    # A skipped slice's share goes to page views so the offered load stays comparable.
    mix = [(s.name, s.weight + (sum(k.weight for k in skipped) if s.name == "page view" else 0))
           for s in active]
    for s in slices if not quiet else ():
        print(f"  {s.name:<10} {s.weight:>4.0%}  {s.note}")
    queue: mp.Queue = mp.Queue()
    start = time.monotonic()
    deadline = start + seconds
    procs = [mp.Process(target=client_process,
                        args=(base, threads, deadline, max_requests // processes, n, mix, pages,
                              queue))
             for n in range(processes)]
    for proc in procs:
        proc.start()
    results = []
    for _ in procs:
        results.extend(queue.get(timeout=seconds + 120))
    for proc in procs:
        proc.join(timeout=30)
    elapsed = time.monotonic() - start
    report = {"seconds": round(elapsed, 2), "requests": len(results),
              "errors": sum(not ok for _, _, ok, _ in results), "slices": {}}
    for name, _ in mix:
        lat = [t * 1000 for n, t, _, _ in results if n == name]
        errors = [s for n, _, ok, s in results if n == name and not ok]
        report["slices"][name] = {
            "count": len(lat), "per_second": round(len(lat) / elapsed, 1),
            "p50_ms": round(percentile(lat, 50), 2), "p95_ms": round(percentile(lat, 95), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "mean_ms": round(statistics.fmean(lat), 2) if lat else 0.0,
            "errors": len(errors), "error_statuses": sorted(set(errors))[:5],
        }
    return report


# -- a server of our own -------------------------------------------------------------------
def start_server(workdir: Path, workers: int | None) -> tuple[subprocess.Popen, str]:
    """gunicorn with gunicorn.conf.py on a free loopback port, over the bundled content."""
    from app.auth import add_user
    from app.db import connect, migrate
    from tests.live import free_port

    content = workdir / "content"
    shutil.copytree(ROOT / "content", content)
    env_git = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@localhost",
               "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@localhost"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "Bench content"]):
        subprocess.run(["git", "-C", str(content), *args], check=True, env=env_git,
                       capture_output=True)
    data = workdir / "data"
    data.mkdir()
    conn = connect(data / "portal.sqlite3")
    migrate(conn, str(data / "portal.sqlite3.lock"))
    add_user(conn, AGENT[0], AGENT[1], "agent")
    conn.close()
    port = free_port()
    env = {**os.environ, "KB_DATA_DIR": str(data), "KB_CONTENT_DIR": str(content),
           "SECRET_KEY": "bench-secret-key-0123456789abcdef", "KB_BIND": f"127.0.0.1:{port}",
           "KB_LOGIN_LIMIT": "10000 per minute"}
    if workers:
        env["KB_WORKERS"] = str(workers)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    log = (workdir / "server.log").open("wb")
    # Access logging to a file costs the server as much as it costs in production.
    proc = subprocess.Popen([gunicorn, "--config", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start: " + (workdir / "server.log").read_text()[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already running server (loopback only)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--clients", default="2x4", help="PROCESSESxTHREADS (default 2x4)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the config)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    args = parser.parse_args()
    processes, threads = (int(n) for n in args.clients.lower().split("x"))
    if args.seconds > 120 or args.max_requests > 1_000_000:
        parser.error("bounded run: at most 120 seconds and 1,000,000 requests")

    proc = tmp = None
    if args.url:
        if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            parser.error("loopback only: --url must be http://127.0.0.1:PORT")
        base = args.url.rstrip("/")
    else:
        tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
        proc, base = start_server(tmp, args.workers)
    try:
        print(f"server {base}; clients {processes} processes x {threads} threads; "
              f"{args.seconds:g} s (after {args.warmup:g} s warm-up), "
              f"at most {args.max_requests} requests; CPUs: {os.cpu_count()}")
        if args.warmup:
            run_load(base, args.warmup, processes, threads, args.max_requests, quiet=True)
            print("  (warm-up done)")
        report = run_load(base, args.seconds, processes, threads, args.max_requests)
    finally:
        if proc is not None:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{report['requests']} requests in {report['seconds']} s, "
          f"{report['requests'] / report['seconds']:.0f} req/s, errors: {report['errors']}")
    print(f"{'slice':<10} {'count':>7} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'errors':>7}")
    for name, s in report["slices"].items():
        print(f"{name:<10} {s['count']:>7} {s['per_second']:>8} {s['p50_ms']:>8} "
              f"{s['p95_ms']:>8} {s['p99_ms']:>8} {s['errors']:>7}"
              + (f"  statuses {s['error_statuses']}" if s["errors"] else ""))
    views = report["slices"].get("page view", {}).get("per_second", 0)
    verdict = "met" if views >= 500 and report["errors"] == 0 else "NOT met"
    print(f"\ntarget >= 500 page views/s with 0 errors: {verdict} ({views} page views/s)")


if __name__ == "__main__":
    main()
