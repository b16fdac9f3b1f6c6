"""A real caching proxy in front of the portal: nginx ``proxy_cache`` before live gunicorn.

Issue 12, item 4: every anonymous visitor used to get a session cookie, so no proxy could
keep a public page.  Here an anonymous page is served from nginx's cache, and a staff page
(the same URL, with internal text) never is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import CANARY_BLOCK
from tests.live import USER_AGENT, LiveClient, LiveServer, free_port, prepare_dirs

pytestmark = pytest.mark.slow
NGINX = os.environ.get("KB_NGINX", "/usr/sbin/nginx")

CONFIG = """
daemon off;
worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=kb:1m max_size=16m inactive=10m;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_cache kb;
            proxy_cache_revalidate on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, tmp: Path, upstream: int):
        self.tmp, self.port = tmp, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # As root, nginx's workers would run as "nobody", who cannot enter pytest's tmp dir.
        user = "user root root;" if os.geteuid() == 0 else ""
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(CONFIG.format(tmp=tmp, port=self.port, upstream=upstream,
                                           user=user))
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Nginx:
        if not Path(NGINX).exists():
            pytest.fail(f"nginx not found at {NGINX}: apt-get install nginx")
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.tmp), "-c", str(self.conf), "-e", str(self.tmp / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.tmp / 'error.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("nginx did not start")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # fast shutdown of master and worker
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def get(url: str, opener=None, headers: dict | None = None):
    """(status, headers, body) of one GET."""
    request = urllib.request.Request(  # noqa: S310  (http only: our own servers)
        url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=20) as res:
            return res.status, res.headers, res.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    base = tmp_path_factory.mktemp("proxy")
    data, content = prepare_dirs(base)
    with LiveServer(data, content, workers=2) as server:
        nginx_dir = base / "nginx"
        nginx_dir.mkdir()
        with Nginx(nginx_dir, server.port) as nginx:
            yield nginx


@pytest.mark.parametrize("path", ["/policies/refunds", "/", "/faq/", "/changes",
                                  "/api/search?q=refund"])
def test_anonymous_pages_are_served_from_the_cache(proxied, path):
    statuses, bodies = [], set()
    for _ in range(3):
        status, headers, body = get(proxied.url + path)
        assert status == 200 and headers.get("Set-Cookie") is None
        assert headers["Cache-Control"] == "public, max-age=60"
        statuses.append(headers["X-Cache-Status"])
        bodies.add(body)
        assert CANARY_BLOCK not in body
    assert statuses[0] in ("MISS", "HIT") and statuses[1:] == ["HIT", "HIT"], statuses
    assert len(bodies) == 1
    # and a browser revalidating its copy gets a 304 from the cache
    _, headers, _ = get(proxied.url + path)
    status, again, body = get(proxied.url + path, headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and body == "" and again["X-Cache-Status"] == "HIT"


def test_staff_pages_are_never_served_from_the_cache(proxied):
    url = proxied.url + "/policies/refunds"
    get(url), get(url)  # the anonymous copy is in the cache now
    agent = LiveClient(proxied.url)
    assert agent.login("agent") == 302
    for _ in range(3):
        status, headers, body = get(url, agent.opener)
        assert status == 200 and CANARY_BLOCK in body  # the agent view, not the cached one
        assert headers["Cache-Control"] == "private, no-store"
        assert headers["X-Cache-Status"] != "HIT"
    # ...and nothing the agent saw was stored for anonymous readers
    status, headers, body = get(url)
    assert headers["X-Cache-Status"] == "HIT" and CANARY_BLOCK not in body


def test_search_pages_and_errors_are_not_cached(proxied):
    for path in ("/search?q=refund", "/nope"):
        for _ in range(2):
            _, headers, _ = get(proxied.url + path)
            assert headers["X-Cache-Status"] != "HIT", path
