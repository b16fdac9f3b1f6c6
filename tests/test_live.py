"""Multi-process behaviour against real gunicorn: shared login limit and fault drills.

These start servers, so they are few, bounded in time, and marked ``slow``.
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import CANARY_BLOCK, PASSWORD
from tests.faults import (
    Traffic,
    delete_caches,
    get,
    held_flock,
    held_sqlite_write,
    kill_worker,
    wait_for,
    wait_for_workers,
)
from tests.live import LiveServer, prepare_dirs

pytestmark = pytest.mark.slow


class Browser:
    """A cookie-keeping client that opens a new connection per request (any worker answers)."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect())

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=20) as res:
                return res.status, res.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def token(self) -> str:
        _, html = self.request("/login")
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    def login(self, username: str = "agent", password: str = PASSWORD) -> int:
        return self.request("/login", {"username": username, "password": password,
                                       "csrf_token": self.token()})[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_login_limit_holds_across_workers(tmp_path):
    data, content = prepare_dirs(tmp_path)
    env = {"KB_LOGIN_LIMIT": "3 per minute"}
    with LiveServer(data, content, workers=2, threads=1, env=env) as server:
        client = Browser(server.url)
        token = client.token()
        def attempt() -> int:
            return client.request("/login", {"username": "agent", "password": "wrong password",
                                             "csrf_token": token})[0]

        assert [attempt() for _ in range(3)] == [401, 401, 401]
        # Keep trying until both workers have refused (each connection may go to either):
        # with per-process counters the other worker would still answer 401.
        refused_by: set[str] = set()
        for _ in range(60):
            assert attempt() == 429
            refused_by = set(re.findall(r'"POST /login HTTP/1.1" 429 .* pid=<?(\d+)',
                                        server.log.read_text()))
            if len(refused_by) == 2:
                break
        assert len(refused_by) == 2, server.log.read_text()[-3000:]
        # Another user from the same address is not locked out.
        assert Browser(server.url).login("editor") == 302


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data, content = prepare_dirs(tmp_path_factory.mktemp("drills"))
    with LiveServer(data, content, workers=2, threads=2) as live:
        yield live


PAGES = [get("/"), get("/policies/refunds"), get("/faq/track-order"), get("/healthz")]


def test_kill_worker_during_traffic(server):
    with Traffic(server, PAGES, threads=4) as traffic:
        wait_for_traffic(traffic, "before")
        traffic.mark("kill")
        victim = kill_worker(server)
        wait_for_workers(server, gone=victim)
        traffic.mark("after")
        wait_for_traffic(traffic, "after", 200)
    for phase in ("before", "kill", "after"):
        assert traffic.count(phase, lambda s: s != 200) == 0, traffic.statuses
    # Only requests in flight on the killed worker may fail (at most one per client thread).
    assert traffic.failures["kill"] <= traffic.threads
    assert traffic.failures["after"] == 0 and traffic.failures["before"] == 0


def test_graceful_reload_on_hup(server):
    """`kill -HUP <master>` replaces every worker without failing a request."""
    import os
    import signal

    before = set(server.worker_pids())
    with Traffic(server, PAGES, threads=4) as traffic:
        wait_for_traffic(traffic, "before")
        traffic.mark("reload")
        os.kill(server.proc.pid, signal.SIGHUP)
        wait_for(lambda: len(server.worker_pids()) == server.workers
                 and not before & set(server.worker_pids()), 30, "new workers")
        traffic.mark("after")
        wait_for_traffic(traffic, "after", 100)
    assert sum(traffic.failures.values()) == 0, traffic.failures
    for phase in ("before", "reload", "after"):
        assert traffic.count(phase, lambda s: s != 200) == 0, traffic.statuses


def test_deleted_caches_and_limiter_file(server):
    client = Browser(server.url)
    assert client.login() == 302
    removed = delete_caches(server.data_dir)
    assert "ratelimit.sqlite3" in removed
    status, html = Browser(server.url).request("/policies/refunds")
    assert status == 200 and CANARY_BLOCK not in html
    assert client.request("/policies/refunds")[1].count(CANARY_BLOCK) == 1  # still signed in
    assert Browser(server.url).login("editor") == 302  # the limiter file is recreated
    # A damaged cache file (disk trouble, a bad restore) is set aside and rebuilt.
    for name in ("ratelimit.sqlite3-wal", "ratelimit.sqlite3-shm"):
        (server.data_dir / name).unlink(missing_ok=True)
    (server.data_dir / "ratelimit.sqlite3").write_bytes(b"\0garbage" * 512)
    assert Browser(server.url).login("admin") == 302
    assert Browser(server.url).login("admin") == 302


def test_held_locks_delay_but_do_not_break(server):
    """A stuck process holding the migration lock or the database write lock: reading goes
    on, sign-in waits for the write lock, a new worker waits for the migration lock; both
    carry on once the lock is released."""
    with held_flock(server.data_dir / "portal.sqlite3.lock"):
        victim = kill_worker(server)
        assert Browser(server.url).request("/")[0] == 200
    wait_for_workers(server, gone=victim)
    release = threading.Event()

    def hold_write_lock():
        with held_sqlite_write(server.data_dir / "portal.sqlite3"):
            release.wait(1.5)

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    try:
        time.sleep(0.2)
        assert Browser(server.url).request("/policies/refunds")[0] == 200  # WAL: no wait
        started = time.monotonic()
        assert Browser(server.url).login() == 302  # writes its session row after the lock
        assert time.monotonic() - started > 0.5
    finally:
        release.set()
        holder.join()


def wait_for_traffic(traffic: Traffic, phase: str, at_least: int = 50) -> None:
    from tests.faults import wait_for

    wait_for(lambda: traffic.count(phase) >= at_least, 20, f"{at_least} responses in {phase}")
