"""What one save costs: in the saving worker, and in another worker on its next requests.

    .venv/bin/python bench/save_cost.py               # 20 saves, median figures
    .venv/bin/python bench/save_cost.py --saves 40

Two processes play two gunicorn workers over one copy of the bundled content and one data
directory: the *saver* GETs ``/edit/policies/<slug>`` and POSTs a one-line change; then the
*reader* (a worker that did not save) serves its first requests after HEAD moved — a policy
page as a customer and as an agent, the home page, the sitemap and a search.  Each step is
timed, its git processes counted by subcommand, and the time spent in the HEAD-keyed
refreshes (content scan, catalogue versions, change map, history, search catch-up and
searcher reopening) reported apart.  The same requests once more, with HEAD unchanged, give
the steady-state cost to compare with.  No server, no network: in-process test clients.
"""

from __future__ import annotations

import argparse
import collections
import functools
import multiprocessing as mp
import os
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

from bench.load import AGENT, EDITOR, prepare_site  # noqa: E402 - after the path

SLUG = "refunds"
READS = [  # (step, signed in as agent, path)
    ("policy page (customer)", False, f"/policies/{SLUG}"),
    ("policy page (agent)", True, f"/policies/{SLUG}"),
    ("other page (customer)", False, "/faq/how-to-return"),
    ("home (customer)", False, "/"),
    ("home (agent)", True, "/"),
    ("sitemap", False, "/sitemap.xml"),
    ("search (customer)", False, "/api/search?q=refund"),
    ("search (agent)", True, "/api/search?q=refund"),
]


class Meter:
    """Counts git processes and times named functions while a step runs."""

    def __init__(self) -> None:
        self.git: collections.Counter[str] = collections.Counter()
        self.pieces: collections.Counter[str] = collections.Counter()
        self._depth: collections.Counter[str] = collections.Counter()
        real_popen_init = subprocess.Popen.__init__

        def popen_init(obj, args, *a, **kw):
            self._count(args)
            return real_popen_init(obj, args, *a, **kw)

        subprocess.Popen.__init__ = popen_init

    def _count(self, args) -> None:
        if isinstance(args, list | tuple) and args and os.path.basename(str(args[0])) == "git":
            sub = next((a for a in args[1:] if not a.startswith("-") and "=" not in a
                        and a not in ("core.quotepath=off",) and not a.startswith("/")), "?")
            self.git[sub] += 1

    def wrap(self, owner, name: str, label: str) -> None:
        if not hasattr(owner, name):
            return
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def timed(*a, **kw):
            self._depth[label] += 1
            start = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                self._depth[label] -= 1
                if not self._depth[label]:  # recursion counts once
                    self.pieces[label] += time.perf_counter() - start

        setattr(owner, name, timed)

    def step(self, fn) -> dict:
        self.git.clear()
        self.pieces.clear()
        start = time.perf_counter()
        fn()
        return {"ms": (time.perf_counter() - start) * 1000, "git": dict(self.git),
                "pieces": {k: v * 1000 for k, v in self.pieces.items()}}


def instrument(meter: Meter) -> None:
    from app.content import store as content
    from app.editing import save as editing
    from app.history import catalogue
    from app.history import revisions as history
    from app.repo import changemap, gitrepo
    from app.search import service as search

    meter.wrap(content.ContentStore, "all", "content catalogue")
    meter.wrap(content.ContentStore, "_scan", "content rescan")
    meter.wrap(catalogue, "_public_versions", "catalogue versions")
    meter.wrap(changemap.ChangeMap, "_refresh", "change map")
    meter.wrap(history, "revisions", "history")
    meter.wrap(history, "in_force", "history in_force")
    meter.wrap(search.SearchService, "sync", "search sync")
    meter.wrap(search.SearchService, "_catch_up", "search catch-up")
    meter.wrap(search.SearchService, "searcher", "search searcher")
    meter.wrap(editing, "commit_files", "commit")
    meter.wrap(editing, "recover", "recover")
    meter.wrap(gitrepo.GitRepo, "make_commit", "make_commit")
    for name in ("after_save", "refresh_caches", "invalidate"):  # hooks, when they exist
        meter.wrap(editing, name, name)


def make_app(content: Path, data: Path):
    from app import create_app

    return create_app({"SECRET_KEY": "bench-secret-key-0123456789abcdef",
                       "KB_DATA_DIR": str(data), "KB_CONTENT_DIR": str(content),
                       "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})


def signed_in(app, account: tuple[str, str]):
    client = app.test_client()
    status = client.post("/login", data={"username": account[0],
                                         "password": account[1]}).status_code
    if status != 302:
        raise RuntimeError(f"login failed: {status}")
    return client


def reader(content: Path, data: Path, conn) -> None:
    try:
        _reader(content, data, conn)
    except BaseException:
        conn.send("failed")
        raise


def _reader(content: Path, data: Path, conn) -> None:
    meter = Meter()
    instrument(meter)
    app = make_app(content, data)
    clients = {False: app.test_client(), True: signed_in(app, AGENT)}

    def get(agent: bool, path: str):
        def run():
            res = clients[agent].get(path)
            if res.status_code != 200:
                raise RuntimeError(f"{path}: {res.status_code}")
        return run

    for _agent, _path in ((a, p) for _s, a, p in READS):
        get(_agent, _path)()  # warm
    conn.send("ready")
    while conn.recv() == "measure":
        after = {name: meter.step(get(agent, path)) for name, agent, path in READS}
        steady = {name: meter.step(get(agent, path)) for name, agent, path in READS}
        conn.send((after, steady))


def saver(content: Path, data: Path, saves: int, conn, out) -> None:
    meter = Meter()
    instrument(meter)
    app = make_app(content, data)
    client = signed_in(app, EDITOR)
    path = f"/edit/policies/{SLUG}"
    value = re.compile(r'name="(\w+)"[^>]*?value="([^"]*)"')
    results = []
    if conn.recv() != "ready":
        raise SystemExit("the reader failed")
    for n in range(saves):
        page: list[str] = []

        def get_form(page=page):
            res = client.get(path)
            page.append(res.get_data(as_text=True))

        form_step = meter.step(get_form)
        html = page[0]
        fields = {k: v for k, v in value.findall(html) if k not in ("material", "new_slug")}
        body = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', html, re.S).group(1)
        import html as h

        fields = {k: h.unescape(v) for k, v in fields.items()}
        fields["audience"] = "public"
        fields["body"] = h.unescape(body).rstrip("\n") + f"\n\nBench line {n}.\n"
        fields["message"] = f"Bench save {n}"

        def post(fields=fields):
            res = client.post(path, data=fields)
            if res.status_code != 302:
                raise RuntimeError(f"save failed: {res.status_code}")

        save_step = meter.step(post)
        conn.send("measure")
        after, steady = conn.recv()
        results.append({"edit form": form_step, "save POST": save_step, "after": after,
                        "steady": steady})
    conn.send("stop")
    out.put(results)


def summarise(results: list[dict]) -> None:
    def med(values):
        return statistics.median(values) if values else 0.0

    def row(label: str, steps: list[dict]) -> None:
        git: collections.Counter[str] = collections.Counter()
        for s in steps:
            git.update(s["git"])
        procs = {k: v / len(steps) for k, v in git.items()}
        total = sum(procs.values())
        detail = ", ".join(f"{k} {v:g}" for k, v in sorted(procs.items(), key=lambda kv: -kv[1]))
        print(f"  {label:<26} {med([s['ms'] for s in steps]):8.1f} ms   git {total:5.1f}"
              + (f"  ({detail})" if detail else ""))
        names = sorted({k for s in steps for k in s["pieces"]})
        for name in names:
            ms = med([s["pieces"].get(name, 0.0) for s in steps])
            if ms >= 0.05:
                print(f"      {name:<24} {ms:8.1f} ms")

    print(f"\nmedians over {len(results)} saves (git = processes per step, mean)")
    print("saving worker:")
    for step in ("edit form", "save POST"):
        row(step, [r[step] for r in results])
    for phase, title in (("after", "another worker, first request after HEAD moved:"),
                         ("steady", "the same requests again (HEAD unchanged):")):
        print(title)
        for name, _a, _p in READS:
            row(name, [r[phase][name] for r in results])
    first = sum(med([r["after"][n]["ms"] for r in results]) for n, _a, _p in READS)
    again = sum(med([r["steady"][n]["ms"] for r in results]) for n, _a, _p in READS)
    print(f"one pass over the {len(READS)} reads: {first:.1f} ms after a save, "
          f"{again:.1f} ms steady (extra {first - again:.1f} ms per worker per save)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-savecost-"))
    try:
        content, data = prepare_site(tmp)
        make_app(content, data)  # build the search index once, before the workers start
        ctx = mp.get_context("fork")
        here, there = ctx.Pipe()
        out = ctx.Queue()
        procs = [ctx.Process(target=reader, args=(content, data, there)),
                 ctx.Process(target=saver, args=(content, data, args.saves, here, out))]
        for proc in procs:
            proc.start()
        results = out.get(timeout=600)
        for proc in procs:
            proc.join(timeout=30)
        summarise(results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
