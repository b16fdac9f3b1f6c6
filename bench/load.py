"""Mixed agent workload against gunicorn on loopback: throughput, p50/p95/p99, errors.

    .venv/bin/python bench/load.py                  # start gunicorn on the bundled content
    .venv/bin/python bench/load.py --seconds 20 --clients 2x8
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000   # an already running server

Bounded: it runs for ``--seconds`` or until ``--max-requests``, whichever comes first, and
talks to loopback addresses only.  The load generator runs in separate processes (threads
with keep-alive ``http.client`` connections) so it does not share a GIL with the server.

The mix is a table (``discover``): 70 % page views, 25 % search-as-you-type (each request
is the next keystroke of a query being typed: "r", "re", "ref", … against ``/api/search``),
5 % saves through the real edit form (an editor GETs ``/edit/policies/<slug>`` for the CSRF
token and ``base_rev``, changes one line of their own and POSTs).  Two editors saving the same
document at once get a 409: that is the conflict protection working, so it is counted apart
from errors and the save is retried on the new version, as a person would.  Saves change
the content repository, so against ``--url`` they run only with ``--editor USER:PASSWORD``.
A slice whose endpoint does not exist is skipped with a note; its share goes to page views.
"""

from __future__ import annotations

import argparse
import html
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
EDITOR = ("bench-editor", "bench editor password")
QUERIES = ["refund", "return label", "shipping time", "invoice", "escalat", "complaint",
           "goodwill credit", "privacy request", "exchange", "damaged item", "late delivery"]
SAVE_DOCS = 10  # saves go to the first policies: concurrent saves sometimes meet
MAX_RETRIES = 5
READY_TIMEOUT = 120.0  # seconds for every client process to sign in before the clock starts


# -- one persistent connection per client thread -------------------------------------------
class Client:
    def __init__(self, base: str, signed_in: bool, account: tuple[str, str] = AGENT):
        parts = urlsplit(base)
        self.base = base
        self.host, self.port = parts.hostname, parts.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        self.cookies: dict[str, str] = {}
        self.typing: tuple[str, int] = ("", 0)  # the query being typed, keystrokes so far
        self.editor: Client | None = None  # this agent's editor session, made on first save
        self.conflicts = 0
        if signed_in:
            self.login(account)

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

    def login(self, account: tuple[str, str] = AGENT) -> None:
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/login", {"username": account[0],
                                                    "password": account[1],
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
        # Search-as-you-type: each request is the next keystroke of the query being typed.
        query, typed = client.typing
        if typed >= len(query):
            query, typed = rng.choice(QUERIES), 0
        typed += 1
        client.typing = (query, typed)
        status, body = client.request("GET", path + quote(query[:typed]))
        return status, status == 200 and body.startswith(b"{")
    return run


_INPUT_RE = re.compile(r'<input\b[^>]*?\bname="(\w+)"[^>]*?\bvalue="([^"]*)"')
_SELECTED_RE = re.compile(r'<select name="audience">.*?<option value="(\w+)" selected', re.S)
_BODY_RE = re.compile(r'<textarea name="body"[^>]*>(.*?)</textarea>', re.S)


def edit_form(page: str) -> dict[str, str]:
    """The edit form's fields as the browser would send them (material left unchecked)."""
    fields: dict[str, str] = {}
    for name, value in _INPUT_RE.findall(page):
        if name not in ("material", "new_slug"):
            fields.setdefault(name, html.unescape(value))  # the first form is the editor
    audience = _SELECTED_RE.search(page)
    fields["audience"] = audience.group(1) if audience else "internal"
    body = _BODY_RE.search(page)
    fields["body"] = html.unescape(body.group(1)) if body else ""
    return fields


def save_request(slugs: list[str], editor: tuple[str, str]) -> Callable:
    def run(client: Client, rng: random.Random, pages: list[str]) -> tuple[int, bool]:
        me = sign_in_editor(client, editor)
        path = "/edit/policies/" + rng.choice(slugs)
        line = f"Bench note {id(me) % 10_000}: edit {rng.randrange(10**6)}."
        for _ in range(MAX_RETRIES):
            status, page = me.request("GET", path)
            if status != 200:
                return status, False
            form = edit_form(page.decode())
            # One line per editor, replaced on each save: a small change of one's own.
            kept = [x for x in form["body"].splitlines() if not x.startswith(line[:16])]
            form["body"] = "\n".join([*kept, "", line]).strip() + "\n"
            form["message"] = "Bench save"
            status, _ = me.request("POST", path, form)
            if status != 409:
                return status, status in (302, 303)
            client.conflicts += 1  # someone saved first: retry on the new version
        return 409, False
    return run


def sign_in_editor(client: Client, editor: tuple[str, str]) -> Client:
    """This agent's editor session (signing in hashes a password on purpose slowly, so it
    is done before the clock starts, not counted as load)."""
    if client.editor is None:
        client.editor = Client(client.base, signed_in=True, account=editor)
    return client.editor


def discover(base: str, editor: tuple[str, str] | None = None
             ) -> tuple[list[Slice], list[str]]:
    """Probe the server for what exists; returns the mix and the page URLs to read."""
    client = Client(base, signed_in=False)
    _, sitemap = client.request("GET", "/sitemap.xml")
    pages = ["/"] + [urlsplit(u).path for u in
                     re.findall(r"<loc>([^<]+)</loc>", sitemap.decode())]
    search = None
    for path in ("/api/search?q=", "/search?q="):
        if client.request("GET", path + "refund")[0] == 200:
            search = Slice("search", 0.25, search_request(path), f"GET {path}… per keystroke")
            break
    if search is None:
        search = Slice("search", 0.25, None, "skipped: no /api/search or /search endpoint yet")
    slugs = [p.removeprefix("/policies/") for p in pages if p.startswith("/policies/")]
    slugs = [s for s in slugs if s and "/" not in s][:SAVE_DOCS]
    if editor is None:
        saves = Slice("save", 0.05, None, "skipped: --no-saves, or --url without --editor")
    elif not slugs:
        saves = Slice("save", 0.05, None, "skipped: no public policy to edit")
    else:
        saves = Slice("save", 0.05, save_request(slugs, editor),
                      f"GET + POST /edit/policies/<one of {len(slugs)}>; 409 retried")
    views = Slice("page view", 0.70, page_view, f"GET one of {len(pages)} pages")
    return [views, search, saves], pages


# -- client processes ----------------------------------------------------------------------
def client_process(base: str, threads: int, seconds: float, budget: int, seed: int,
                   mix: list[tuple[str, float]], pages: list[str], out: mp.Queue,
                   editor: tuple[str, str] | None, ready: mp.Queue, go) -> None:
    """Sign every client in first, report ready, then run the mix for ``seconds`` from the
    moment ``go`` is set: sign-ins (slow password hashing, by design) are not load."""
    slices, _ = discover(base, editor)
    runners = {s.name: s.run for s in slices}
    names = [name for name, _ in mix]
    weights = [weight for _, weight in mix]
    results: list[tuple[str, float, bool, int]] = []
    lock = threading.Lock()
    count = [0]
    conflicts = [0]

    clients = [Client(base, signed_in=index % 2 == 0)  # half the agents are signed in
               for index in range(threads)]
    if editor is not None and runners.get("save") is not None and dict(mix).get("save"):
        for client in clients:
            sign_in_editor(client, editor)
    ready.put(seed)
    if not go.wait(timeout=READY_TIMEOUT + 60):  # the parent gave up: stay bounded
        out.put(([], 0))
        return
    deadline = time.monotonic() + seconds

    def loop(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = clients[index]
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
            conflicts[0] += client.conflicts

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    out.put((results, conflicts[0]))


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def paced_saves(base: str, rate: float, deadline: float, editor: tuple[str, str],
                out: list) -> None:
    """Saves at a steady ``rate`` per second from one editor (open loop: a slow save does not
    slow the readers' clients down), recorded like the other slices."""
    slices, pages = discover(base, editor)
    save = next(s.run for s in slices if s.name == "save")
    client, rng = Client(base, signed_in=False), random.Random(7)
    sign_in_editor(client, editor)
    due = time.monotonic()
    while due < deadline:
        time.sleep(max(0.0, due - time.monotonic()))
        start = time.perf_counter()
        try:
            status, ok = save(client, rng, pages)
        except (OSError, http.client.HTTPException):
            status, ok = 0, False
        out.append(("save", time.perf_counter() - start, ok, status))
        due += 1 / rate
    out.append(client.conflicts)


def run_load(base: str, seconds: float, processes: int, threads: int,
             max_requests: int, quiet: bool = False,
             editor: tuple[str, str] | None = None, save_rate: float = 0,
             cpu: ServerCPU | None = None) -> dict:
    slices, pages = discover(base, editor)
    if save_rate and editor:  # saves run paced in their own thread, not in the mix
        for s in slices:
            if s.name == "save":
                s.run, s.note = None, f"{save_rate:g} per second from one editor (paced)"
    active = [s for s in slices if s.run is not None]
    skipped = [s for s in slices if s.run is None]
    # A skipped slice's share goes to page views so the offered load stays comparable.
    mix = [(s.name, s.weight + (sum(k.weight for k in skipped) if s.name == "page view" else 0))
           for s in active]
    for s in slices if not quiet else ():
        print(f"  {s.name:<10} {s.weight:>4.0%}  {s.note}")
    queue: mp.Queue = mp.Queue()
    ready: mp.Queue = mp.Queue()
    go = mp.Event()
    # Daemons: should this process fail, its clients end with it instead of waiting.
    procs = [mp.Process(target=client_process,
                        args=(base, threads, seconds, max_requests // processes, n, mix, pages,
                              queue, editor, ready, go), daemon=True)
             for n in range(processes)]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=READY_TIMEOUT)
    except Exception:
        for proc in procs:
            proc.terminate()
        raise RuntimeError("a client process did not sign in within "
                           f"{READY_TIMEOUT:.0f} s (see its error above)") from None
    if cpu is not None:
        cpu.begin()
    go.set()
    start = time.monotonic()
    deadline = start + seconds
    paced: list = []
    pacer = None
    if save_rate and editor:
        pacer = threading.Thread(target=paced_saves, args=(base, save_rate, deadline, editor,
                                                           paced))
        pacer.start()
        mix = [*mix, ("save", 0.0)]
    results = []
    conflicts = 0
    for _ in procs:
        got, clashes = queue.get(timeout=seconds + 120)
        results.extend(got)
        conflicts += clashes
    for proc in procs:
        proc.join(timeout=30)
    if pacer is not None:
        pacer.join(timeout=60)
        conflicts += paced.pop() if paced and isinstance(paced[-1], int) else 0
        results.extend(paced)
    elapsed = time.monotonic() - start
    report = {"seconds": round(elapsed, 2), "requests": len(results),
              "server_cpu_seconds": round(cpu.end(), 2) if cpu is not None else None,
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
    if "save" in report["slices"]:
        report["slices"]["save"]["conflicts"] = conflicts
    return report


# -- the server's CPU ------------------------------------------------------------------------
class ServerCPU:
    """CPU seconds used by a gunicorn master and its workers while the clock runs (Linux).

    Throughput moves by ±20 % with what else the machine does; CPU per request moves far
    less, so it is the figure to compare two versions of the code by.  Sampled every 0.2 s
    so a worker recycled meanwhile still counts."""

    def __init__(self, master: int):
        self.master, self.seen, self.start = master, {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _sample(self) -> dict[int, int]:
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry) == self.master or int(fields[1]) == self.master:
                found[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime
        return found

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for pid, ticks in self._sample().items():
                self.start.setdefault(pid, 0)  # a worker born during the run
                self.seen[pid] = ticks

    def begin(self) -> None:
        self.start = self._sample()
        self.seen = dict(self.start)
        self._thread.start()

    def end(self) -> float:
        self._stop.set()
        self._thread.join(timeout=5)
        for pid, ticks in self._sample().items():
            self.seen[pid] = ticks
        ticks = sum(t - self.start.get(pid, 0) for pid, t in self.seen.items())
        return ticks / os.sysconf("SC_CLK_TCK")


# -- a server of our own -------------------------------------------------------------------
def prepare_site(workdir: Path) -> tuple[Path, Path]:
    """A git copy of the bundled content and a data dir with the bench's two accounts."""
    from app.accounts.auth import add_user
    from app.db import connect, migrate

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
    add_user(conn, EDITOR[0], EDITOR[1], "editor")
    conn.close()
    return content, data


def start_server(workdir: Path, workers: int | None) -> tuple[subprocess.Popen, str]:
    """gunicorn with gunicorn.conf.py on a free loopback port, over the bundled content."""
    from tests.live import free_port

    content, data = prepare_site(workdir)
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
    parser.add_argument("--editor", help="USER:PASSWORD of an editor for the saves slice "
                                         "(with --url; our own server has one)")
    parser.add_argument("--no-saves", action="store_true",
                        help="read-only mix: the saves' share goes to page views")
    parser.add_argument("--save-rate", type=float, default=0,
                        help="instead of 5%% of the mix, save N times per second from one "
                             "paced editor (the 5%% go to page views)")
    args = parser.parse_args()
    processes, threads = (int(n) for n in args.clients.lower().split("x"))
    if args.seconds > 120 or args.max_requests > 1_000_000:
        parser.error("bounded run: at most 120 seconds and 1,000,000 requests")

    proc = tmp = None
    editor = tuple(args.editor.split(":", 1)) if args.editor else None
    if args.url:
        if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            parser.error("loopback only: --url must be http://127.0.0.1:PORT")
        base = args.url.rstrip("/")
    else:
        tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
        proc, base = start_server(tmp, args.workers)
        editor = EDITOR
    if args.no_saves:
        editor = None
    try:
        print(f"server {base}; clients {processes} processes x {threads} threads; "
              f"{args.seconds:g} s (after {args.warmup:g} s warm-up), "
              f"at most {args.max_requests} requests; CPUs: {os.cpu_count()}")
        if args.warmup:
            run_load(base, args.warmup, processes, threads, args.max_requests, quiet=True,
                     editor=editor, save_rate=args.save_rate)
            print("  (warm-up done)")
        report = run_load(base, args.seconds, processes, threads, args.max_requests,
                          editor=editor, save_rate=args.save_rate,
                          cpu=ServerCPU(proc.pid) if proc is not None else None)
    finally:
        if proc is not None:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{report['requests']} requests in {report['seconds']} s, "
          f"{report['requests'] / report['seconds']:.0f} req/s, errors: {report['errors']}")
    if report["server_cpu_seconds"] is not None and report["requests"]:
        busy = report["server_cpu_seconds"]
        print(f"server CPU {busy:.1f} s ({busy / report['seconds']:.2f} of "
              f"{os.cpu_count()} CPUs): {busy * 1000 / report['requests']:.2f} ms per request")
    print(f"{'slice':<10} {'count':>7} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'errors':>7}")
    for name, s in report["slices"].items():
        print(f"{name:<10} {s['count']:>7} {s['per_second']:>8} {s['p50_ms']:>8} "
              f"{s['p95_ms']:>8} {s['p99_ms']:>8} {s['errors']:>7}"
              + (f"  statuses {s['error_statuses']}" if s["errors"] else "")
              + (f"  (409 conflicts retried: {s['conflicts']})" if "conflicts" in s else ""))
    views = report["slices"].get("page view", {}).get("per_second", 0)
    verdict = "met" if views >= 500 and report["errors"] == 0 else "NOT met"
    print(f"\ntarget >= 500 page views/s with 0 errors: {verdict} ({views} page views/s)")


if __name__ == "__main__":
    main()
