"""Benchmark: an anonymous page straight from gunicorn vs from nginx's cache in front of it.

    .venv/bin/python bench/proxy_cache.py [-n 300]

Starts gunicorn (2 workers, the fixture content) and nginx with ``proxy_cache`` as in
``tests/test_proxy_cache.py``, then times sequential anonymous GETs (a new connection each):
the document page and the home page direct, through the cache (HIT), and a revalidation
(``If-None-Match`` answered 304 by the portal itself).  Prints medians, p95 and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import LiveServer, prepare_dirs  # noqa: E402
from tests.test_proxy_cache import Nginx, get  # noqa: E402


def timed(url: str, n: int, headers: dict | None = None) -> tuple[list[float], set]:
    samples, statuses = [], set()
    for _ in range(n):
        start = time.perf_counter()
        status, res_headers, _ = get(url, headers=headers)
        samples.append(time.perf_counter() - start)
        statuses.add((status, res_headers.get("X-Cache-Status", "-")))
    return samples, statuses


def report(label: str, samples: list[float], statuses: set) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{label:42s} median {statistics.median(ordered) * 1000:6.2f} ms   "
          f"p95 {p95 * 1000:6.2f} ms   {sorted(statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    print(f"bench/proxy_cache.py  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  n={args.n}")
    with tempfile.TemporaryDirectory() as tmp:
        data, content = prepare_dirs(Path(tmp))
        with LiveServer(data, content, workers=2) as server:
            (Path(tmp) / "nginx").mkdir()
            with Nginx(Path(tmp) / "nginx", server.port) as nginx:
                for path in ("/policies/refunds", "/"):
                    for base in (server.url, nginx.url):  # warm both
                        urllib.request.urlopen(base + path).read()  # noqa: S310
                    report(f"{path} direct (gunicorn renders)", *timed(server.url + path, args.n))
                    report(f"{path} via nginx cache", *timed(nginx.url + path, args.n))
                    etag = get(server.url + path)[1]["ETag"]
                    report(f"{path} direct, If-None-Match (304)",
                           *timed(server.url + path, args.n, {"If-None-Match": etag}))


if __name__ == "__main__":
    main()
