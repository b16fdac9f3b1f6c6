"""Keystroke to paint in Chromium: an agent types a query, how long until its results show.

    .venv/bin/python bench/keystrokes.py --baseline 4386435     # this tree against main, same run
    .venv/bin/python bench/keystrokes.py --docs 10000 --baseline 4386435 --typings 60
    .venv/bin/python bench/keystrokes.py                         # this tree only
    .venv/bin/python bench/keystrokes.py --docs 10000 --corpus DIR   # a corpus generated earlier

It starts the portal under gunicorn (``gunicorn.conf.py``, its default workers) over the
bundled content or, with ``--docs N``, over the generated corpus of ``bench/search.py``
(``../shared/bench/gen_corpus.py``, indexed with ``flask kb reindex``). With ``--baseline
REV`` the revision is checked out with ``git worktree add`` into a temporary folder and a
second server runs that code (``PYTHONPATH`` and working directory there) on its own data
folder, so both are measured in the same run; each query is typed on both, in a random
order, so what else the machine does weighs on both alike.

Debian's Chromium (Playwright, headless) signs in as an agent and types realistic agent
queries letter by letter into the header search box, with seeded random pauses between
keys (``--delay 60 150`` ms). Timestamps are taken in the page, on the clock of
``performance.now()``: from the ``keydown`` of the last key (its ``event.timeStamp``, so
a busy main thread counts) to the ``requestAnimationFrame`` callback after the first change
of the as-you-type list once the answer for the complete query has arrived, i.e. the frame
that paints it. After each typing the list is checked against the API's answer for the
complete query. It also counts the API requests and the live-region announcements per
typed query. Prints p50, p95 and max, the ratio to the baseline, and the goal (p95 <= 100
ms, issue #13), with the date, CPUs and load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.relevance import repository  # noqa: E402
from tests.live import free_port  # noqa: E402

GEN = ROOT.parent / "shared" / "bench" / "gen_corpus.py"
CHROMIUM = os.environ.get("KB_CHROMIUM", "/usr/bin/chromium")
AGENT = ("bench-agent", "bench agent password")
GOAL_P95_MS = 100.0
# What agents type mid-call: short, in their own words, sometimes a word being typed.
QUERIES = [
    "refund after 30 days", "charged twice", "parcel not arrived", "speak to a manager",
    "goodwill credit", "damaged item", "return without receipt", "change delivery address",
    "cancel order", "reset password", "late delivery", "invoice copy", "chargeback",
    "warranty claim", "delete my data", "abusive caller", "call recording", "exchange size",
    "return a gift", "price drop", "missed delivery slot", "furniture delivery",
    "refund over my limit", "escalate complaint", "verify caller", "close account",
    "payment methods", "holiday delivery", "injury product", "data copy request",
    "track order", "delivery cost", "contact hours", "review for discount",
    "items that cannot be returned", "refund timeline", "duplicate charge", "return label",
    "lost shipment", "two factor", "account takeover", "promo code", "restocking fee",
    "subscription cancel", "email change", "handoff to team", "response time", "escalat",
]

PAGE_SCRIPT = """
(() => {
  const S = window.__typing = {final: null, finalAt: null, finalSent: null, paint: null,
                               key: null,
                               keys: [], sent: [], announcements: 0, waiting: false};
  document.addEventListener("keydown", (e) => {
    if (e.target && e.target.id === "q") { S.keys.push(e.timeStamp); }
  }, true);
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    const promise = fetch0.apply(this, arguments);
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    if (url.pathname.endsWith("/api/search") && S.final !== null) {
      const q = url.searchParams.get("q");
      S.sent.push(q);
      if (q === S.final && S.finalSent === null) { S.finalSent = performance.now(); }
      // Registered before the page's own handlers: set before the answer is rendered.
      promise.then(() => { if (q === S.final && S.finalAt === null) {
        S.finalAt = performance.now(); } }, () => {});
    }
    return promise;
  };
  document.addEventListener("DOMContentLoaded", () => {
    const list = document.getElementById("search-suggestions");
    const status = document.getElementById("search-status");
    if (!list) { return; }
    new MutationObserver(() => {
      if (S.final === null || S.finalAt === null || S.waiting) { return; }
      S.waiting = true;
      const key = S.keys[S.keys.length - 1];
      requestAnimationFrame(() => { S.paint = performance.now(); S.key = key; });
    }).observe(list, {childList: true});
    new MutationObserver(() => {
      if (S.final !== null && status.textContent) { S.announcements += 1; }
    }).observe(status, {childList: true, characterData: true, subtree: true});
  });
})();
"""

ARM = """(q) => { const S = window.__typing; Object.assign(S, {final: q, finalAt: null,
  finalSent: null, paint: null, key: null, keys: [], sent: [], announcements: 0,
  waiting: false}); }"""
RESULT = """() => { const S = window.__typing; const r = {latency: S.paint - S.key,
  wait: S.finalSent - S.key, answer: S.finalAt - S.finalSent, paint: S.paint - S.finalAt,
  requests: S.sent.length, announcements: S.announcements, final: S.final};
  S.final = null; return r; }"""
SHOWN = """() => Array.from(document.querySelectorAll("#search-suggestions [role=option]"))
  .map((li) => (li.querySelector(".option-title") || li).textContent)"""
EXPECTED = """async (q) => { const form = document.querySelector("form.search-box");
  const res = await fetch(form.dataset.api + "?limit=8&q=" + encodeURIComponent(q),
                          {credentials: "same-origin", headers: {"Accept": "application/json"}});
  const data = await res.json();
  return data.results.length ? data.results.map((r) => r.title)
    : [data.suggestion ? "No results. Did you mean " + data.suggestion + "?" : "No results."]; }"""


@dataclass
class Server:
    label: str
    tree: Path
    data: Path
    content: Path
    workers: int | None
    proc: subprocess.Popen | None = None
    port: int = 0
    latencies: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=lambda: {"wait": [], "answer": [],
                                                                   "paint": []})
    requests: list[int] = field(default_factory=list)
    announcements: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(self.tree), "KB_DATA_DIR": str(self.data),
               "KB_CONTENT_DIR": str(self.content),
               "SECRET_KEY": "bench-secret-key-0123456789abcdef",
               "KB_LOGIN_LIMIT": "10000 per minute", "KB_LOGIN_ADDRESS_LIMIT": "10000 per minute",
               "KB_SEARCH_LIMIT": "100000 per minute"}
        if self.workers:
            env["KB_WORKERS"] = str(self.workers)
        return env

    def prepare(self) -> None:
        """The index and the agent's account, made by this server's own code."""
        self.data.mkdir(parents=True, exist_ok=True)
        flask = str(Path(sys.executable).with_name("flask"))
        for args in (["kb", "reindex"],
                     ["users", "add", AGENT[0], "--role", "agent", "--password", AGENT[1]]):
            subprocess.run([flask, "--app", "wsgi", *args], cwd=self.tree, env=self.env(),
                           check=True, capture_output=True)

    def start(self) -> None:
        self.port = free_port()
        env = {**self.env(), "KB_BIND": f"127.0.0.1:{self.port}"}
        log = (self.data / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--config",
             str(self.tree / "gunicorn.conf.py"), "wsgi:app"],
            cwd=self.tree, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as res:  # noqa: S310
                    if res.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.label} did not start: see {self.data / 'server.log'}")

    def warm(self, workers: int) -> None:
        """Each worker's first page and search load what the content holds (seconds at
        10,000 documents): ask both, concurrently and on new connections, a few rounds."""
        def get(path: str) -> None:
            with urllib.request.urlopen(self.url + path, timeout=120) as res:  # noqa: S310
                res.read()

        with ThreadPoolExecutor(max_workers=2 * workers) as pool:
            for _round in range(3):
                list(pool.map(get, ["/", "/api/search?q=refund&limit=8"] * workers))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def open_page(browser, server: Server):
    context = browser.new_context()
    context.set_default_timeout(15_000)
    context.add_init_script(PAGE_SCRIPT)
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("input[name=username]", AGENT[0])
    page.fill("input[name=password]", AGENT[1])
    page.click("button[type=submit]", no_wait_after=True)
    page.wait_for_url(server.url + "/", timeout=120_000)
    page.locator("#q").click()
    return page


def type_query(page, server: Server, query: str, rng: random.Random,
               delay: tuple[float, float]) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate(ARM, query)
    for i, char in enumerate(query):
        page.keyboard.type(char)
        if i < len(query) - 1:
            time.sleep(rng.uniform(*delay) / 1000)
    try:
        page.wait_for_function("() => window.__typing.paint !== null", timeout=10_000)
    except PlaywrightTimeout:  # the list never showed the complete query's answer
        server.failures.append(f"{query!r}: no results painted within 10 s")
        page.evaluate(RESULT)
        page.keyboard.press("Escape")
        return
    time.sleep(1.2)  # the agent reads; a delayed announcement has its time
    got = page.evaluate(RESULT)
    shown, expected = page.evaluate(SHOWN), page.evaluate(EXPECTED, query)
    if shown != expected:
        server.failures.append(f"{query!r}: list shows {shown[:3]}, answer is {expected[:3]}")
    else:
        server.latencies.append(got["latency"])
        for part, values in server.parts.items():
            values.append(got[part])
    server.requests.append(got["requests"])
    server.announcements.append(got["announcements"])
    page.keyboard.press("Escape")
    time.sleep(rng.uniform(0.2, 0.5))


def run(servers: list[Server], typings: int, seed: int, delay: tuple[float, float],
        warmup: int) -> None:
    from playwright.sync_api import sync_playwright

    rng = random.Random(seed)
    queries = [QUERIES[i % len(QUERIES)] for i in range(typings)]
    rng.shuffle(queries)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            pages = {s.label: open_page(browser, s) for s in servers}
            for query in ["zq", "xw"][:warmup]:  # the first typings warm the page and workers
                for s in servers:
                    type_query(pages[s.label], s, query, rng, delay)
            for s in servers:
                s.latencies.clear()
                for values in s.parts.values():
                    values.clear()
                s.requests.clear()
                s.announcements.clear()
                s.failures.clear()
            for n, query in enumerate(queries, 1):
                order = servers[:]
                rng.shuffle(order)
                for s in order:
                    type_query(pages[s.label], s, query, random.Random(f"{seed}-{n}"), delay)
        finally:
            browser.close()


def describe_tree(rev: str | None) -> str:
    if rev:
        return f"{git('rev-parse', '--short', rev)} ({git('log', '-1', '--format=%s', rev)[:50]})"
    dirty = "+changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{git('rev-parse', '--short', 'HEAD')}{dirty} (this tree)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision")
    parser.add_argument("--docs", type=int, default=0,
                        help="a generated corpus of this many documents (default: bundled)")
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help="reuse a corpus gen_corpus.py wrote earlier (with --docs N)")
    parser.add_argument("--typings", type=int, default=40, help="queries typed per server")
    parser.add_argument("--delay", type=float, nargs=2, default=(60.0, 150.0),
                        metavar=("MIN", "MAX"), help="ms between keys, uniform (60 150)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default: gunicorn.conf.py's)")
    args = parser.parse_args()
    workers = args.workers or int(os.environ.get("KB_WORKERS", 2 * (os.cpu_count() or 1) + 1))
    with tempfile.TemporaryDirectory(prefix="kb-typing-") as tmp:
        work = Path(tmp)
        content = work / "content"
        if args.docs and args.corpus:
            shutil.copytree(args.corpus, content, symlinks=True)
            corpus = f"generated corpus, {args.docs:,} documents"
        elif args.docs:
            subprocess.run([sys.executable, str(GEN), str(content), "--n", str(args.docs),
                            "--git"], check=True, capture_output=True)
            corpus = f"generated corpus, {args.docs:,} documents"
        else:
            repository(ROOT / "content", work)  # work / "content", as a git repository
            docs = len(list(content.glob("*/*.md")))
            corpus = f"bundled content, {docs} documents"
        servers = []
        baseline_tree = work / "baseline"
        if args.baseline:
            git("worktree", "add", "--detach", str(baseline_tree), args.baseline)
            servers.append(Server(f"baseline {describe_tree(args.baseline)}", baseline_tree,
                                  work / "data-baseline", content, args.workers))
        servers.append(Server(f"new {describe_tree(None)}", ROOT, work / "data-new", content,
                              args.workers))
        try:
            for s in servers:
                s.prepare()
                s.start()
                s.warm(workers)
            run(servers, args.typings, args.seed, tuple(args.delay), warmup=2)
        finally:
            for s in servers:
                s.stop()
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(baseline_tree)], capture_output=True)
    load = os.getloadavg()
    print(f"bench/keystrokes.py, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; headless Chromium, "
          f"gunicorn {workers} workers per server; {corpus}; {args.typings} typings per server, "
          f"{args.delay[0]:g}-{args.delay[1]:g} ms between keys (seed {args.seed}), "
          f"alternating servers")
    print(f"{'last keystroke to paint':<42} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
          f"{'requests':>9} {'announced':>10}")
    for s in servers:
        lat = s.latencies
        print(f"{s.label[:42]:<42} {percentile(lat, 50):>7.1f} {percentile(lat, 95):>7.1f} "
              f"{max(lat, default=float('nan')):>7.1f} "
              f"{statistics.mean(s.requests) if s.requests else float('nan'):>9.1f} "
              f"{statistics.mean(s.announcements) if s.announcements else float('nan'):>10.2f}")
    print("  (requests and announcements: per typed query, mean)")
    print("of which, p50 / p95 ms: last key to request sent, request to answer, answer to "
          "the frame painting it")
    for s in servers:
        print(f"  {s.label.split(' ')[0]:<10} " + ",  ".join(
            f"{part} {percentile(v, 50):.1f} / {percentile(v, 95):.1f}"
            for part, v in s.parts.items()))
    new = servers[-1]
    if args.baseline:
        base = servers[0]
        r50 = percentile(new.latencies, 50) / percentile(base.latencies, 50)
        r95 = percentile(new.latencies, 95) / percentile(base.latencies, 95)
        print(f"ratio new / baseline: p50 {r50:.2f}x, p95 {r95:.2f}x")
    for s in servers:
        p95 = percentile(s.latencies, 95)
        print(f"goal p95 <= {GOAL_P95_MS:g} ms, {s.label.split(' ')[0]}: {p95:.1f} ms "
              f"{'met' if p95 <= GOAL_P95_MS else 'over'}")
        for failure in s.failures:
            print(f"  FAILED {s.label.split(' ')[0]}: {failure}")


if __name__ == "__main__":
    main()
