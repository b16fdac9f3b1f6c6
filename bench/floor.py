"""The portal's fixed cost per request, against a bare Flask app measured in the same run.

    .venv/bin/python bench/floor.py                 # sequential requests, then the load mix
    .venv/bin/python bench/floor.py --requests 500 --seconds 20

Both apps are served by gunicorn with the same settings (``gunicorn.conf.py``; one worker for
the sequential part, the configured workers for the mix). The floor (``bench/floor_app.py``)
answers the same request shapes doing next to nothing, with a page template of the same size
as the portal's page. Sequential requests open a new connection each time, as a browser's
first request does: ``/healthz``, an anonymous page, its conditional GET (``If-None-Match``
with the page's ETag: 304), an agent's page and an as-you-type search. Then the read mix of
``bench/load.py`` with one save a second runs against each, and server CPU per request is
compared: measured after a few seconds of the same mix (``--warmup``, its figure printed
apart), so that what a server does once per worker or per page (parse, render, walk a
file's history) is not read as a cost of every request.  Prints medians, p95 and each
ratio to the floor, with the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import AGENT, EDITOR, Client, ServerCPU, prepare_site, run_load  # noqa: E402
from tests.live import free_port  # noqa: E402

PAGE = "/policies/refunds"
SEARCH = "/api/search?q=refu"
GOALS = {"healthz": 1.5, "anonymous page": 2.5, "304": 1.3, "agent page": 4.0,
         "search as you type": 3.0}


def start(app: str, env: dict[str, str], workers: int, workdir: Path) -> tuple[subprocess.Popen,
                                                                             int]:
    port = free_port()
    env = {**os.environ, **env, "KB_BIND": f"127.0.0.1:{port}", "KB_WORKERS": str(workers),
           "KB_DATA_DIR": env.get("KB_DATA_DIR", str(workdir))}
    log = (workdir / f"{app.split(':')[0].replace('.', '-')}-{port}.log").open("wb")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "--config",
                             str(ROOT / "gunicorn.conf.py"), app], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _h, _b = fetch(port, "/healthz")
            if status == 200:
                settle(proc.pid, workers)
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def settle(master: int, workers: int, timeout: float = 60.0) -> None:
    """Wait until every worker has booted and the server is idle.

    The first worker answers ``/healthz`` while the others may still be importing and
    building the app: that start-up is not the cost of a request, and counting it in the
    mix's server CPU would charge whichever app starts slower.  Both apps wait alike.
    """
    cpu = ServerCPU(master)
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        sample = cpu._sample()
        total = sum(sample.values())
        if last is not None and len(sample) > workers and total - last <= 2:  # <= 20 ms of CPU
            return
        last = total
        time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(timeout=20)


def fetch(port: int, path: str, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def cookie_header(client: Client) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


def requests_for(port: int) -> dict[str, tuple[str, dict[str, str] | None, int]]:
    """name -> (path, headers, expected status) on one server."""
    agent = Client(f"http://127.0.0.1:{port}", signed_in=True, account=AGENT)
    _s, headers, _b = fetch(port, PAGE)
    conditional = {"If-None-Match": headers["etag"]} if "etag" in headers else None
    return {"healthz": ("/healthz", None, 200), "anonymous page": (PAGE, None, 200),
            "304": (PAGE, conditional, 304) if conditional else (PAGE, None, 0),
            "agent page": (PAGE, cookie_header(agent), 200),
            "search as you type": (SEARCH, None, 200)}


def sequential(ports: dict[str, int], n: int) -> dict[str, dict[str, list[float]]]:
    """Each measurement alternates between the servers request by request, so a change in
    what else the machine is doing weighs on both alike."""
    plans = {label: requests_for(port) for label, port in ports.items()}
    out: dict[str, dict[str, list[float]]] = {label: {} for label in ports}
    for name in GOALS:
        for label in ports:
            out[label][name] = []
        for i in range(n + 1):
            for label, port in ports.items():
                path, headers, expect = plans[label][name]
                if not expect:
                    continue  # no ETag: nothing to ask conditionally
                t0 = time.perf_counter()
                status, _h, _b = fetch(port, path, headers)
                took = (time.perf_counter() - t0) * 1000
                if status != expect:
                    raise RuntimeError(f"{label} {path}: {status}, expected {expect}")
                if i:  # the first round warms each worker
                    out[label][name].append(took)
    return out


def p(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def mix(port: int, proc: subprocess.Popen, seconds: float) -> dict:
    report = run_load(f"http://127.0.0.1:{port}", seconds, 2, 4, 1_000_000, quiet=True,
                      editor=EDITOR, save_rate=1.0, cpu=ServerCPU(proc.pid))
    report["cpu_ms_per_request"] = (report["server_cpu_seconds"] * 1000 / report["requests"]
                                    if report["requests"] else float("nan"))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per sequential measurement")
    parser.add_argument("--seconds", type=float, default=15.0, help="of the load mix per app")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of the mix run first on each app, reported apart")
    parser.add_argument("--no-mix", action="store_true", help="sequential measurements only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-floor-") as tmp:
        work = Path(tmp)
        content, data = prepare_site(work)
        portal_env = {"KB_DATA_DIR": str(data), "KB_CONTENT_DIR": str(content),
                      "SECRET_KEY": "bench-secret-key-0123456789abcdef",
                      "KB_LOGIN_LIMIT": "10000 per minute",
                      "KB_LOGIN_ADDRESS_LIMIT": "10000 per minute",
                      "KB_SEARCH_LIMIT": "100000 per minute"}
        portal_proc, portal_port = start("wsgi:app", portal_env, 1, work)
        page_bytes = len(fetch(portal_port, PAGE)[2])
        floor_env = {"FLOOR_PAGE_BYTES": str(page_bytes), "FLOOR_SAVE_DIR": str(work)}
        try:
            floor_proc, floor_port = start("bench.floor_app:app", floor_env, 1, work)
            try:
                got = sequential({"floor": floor_port, "portal": portal_port}, args.requests)
            finally:
                stop(floor_proc)
        finally:
            stop(portal_proc)
        floor, portal = got["floor"], got["portal"]
        print(f"bench/floor.py, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
              f"{os.cpu_count()} CPUs; one gunicorn worker each, a new connection per request, "
              f"{args.requests} requests each, alternating; portal page {page_bytes:,} bytes")
        print(f"{'request':<20} {'floor p50/p95 ms':>17} {'portal p50/p95 ms':>18} "
              f"{'ratio p50':>9} {'goal':>6}")
        for name, goal in GOALS.items():
            f50, f95 = p(floor[name], 50), p(floor[name], 95)
            q50, q95 = p(portal[name], 50), p(portal[name], 95)
            base = f50
            ratio = q50 / base if portal[name] else float("nan")
            verdict = "ok" if ratio <= goal else "over"
            print(f"{name:<20} {f50:>8.2f} / {f95:<6.2f} {q50:>9.2f} / {q95:<6.2f} "
                  f"{ratio:>8.2f}x {goal:>5}x {verdict}")
        if args.no_mix:
            return
        reports, cold = {}, {}
        for label, app, env, workers in (
                ("floor", "bench.floor_app:app", floor_env, 0),
                ("portal", "wsgi:app", portal_env, 0)):
            workers = int(os.environ.get("KB_WORKERS", 2 * (os.cpu_count() or 1) + 1))
            proc, port = start(app, env, workers, work)
            try:
                if args.warmup > 0:  # fills per-worker caches, as any server running a while
                    cold[label] = mix(port, proc, args.warmup)
                reports[label] = mix(port, proc, args.seconds)
            finally:
                stop(proc)
        print(f"\nread mix with one save a second, {args.seconds:g} s each after "
              f"{args.warmup:g} s of warm-up, {workers} workers each, clients 2x4:")
        for label, rep in reports.items():
            first = (f" (warm-up, cold caches: {cold[label]['cpu_ms_per_request']:.2f} ms)"
                     if label in cold else "")
            print(f"  {label:<7} {rep['requests'] / rep['seconds']:>7.0f} requests/s, "
                  f"{rep['cpu_ms_per_request']:.2f} ms server CPU per request, "
                  f"{rep['errors']} errors{first}")
        ratio = reports["portal"]["cpu_ms_per_request"] / reports["floor"]["cpu_ms_per_request"]
        print(f"  CPU per request, portal / floor: {ratio:.2f}x (goal 2x) "
              f"{'ok' if ratio <= 2 else 'over'}")


if __name__ == "__main__":
    main()
