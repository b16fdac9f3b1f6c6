"""Multi-process behaviour against real gunicorn: shared login limit and fault drills.

These start servers, so they are few, bounded in time, and marked ``slow``.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.conftest import CANARY_BLOCK, PASSWORD
from tests.faults import (
    Traffic,
    delete_caches,
    get,
    held_flock,
    held_sqlite_write,
    kill_worker,
    post,
    wait_for,
    wait_for_workers,
)
from tests.live import LiveClient, LiveServer, prepare_dirs

pytestmark = pytest.mark.slow


def test_login_limit_holds_across_workers(tmp_path):
    data, content = prepare_dirs(tmp_path)
    env = {"KB_LOGIN_LIMIT": "3 per minute"}
    with LiveServer(data, content, workers=2, threads=1, env=env) as server:
        client = LiveClient(server.url)
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
        assert LiveClient(server.url).login("editor") == 302


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


def test_kill_worker_during_writes_loses_nothing_committed(server):
    """Sign-ins write a session row each; kill -9 a worker mid-stream.  Every sign-in the
    client saw succeed is in the database; the site keeps accepting them."""
    import sqlite3

    client = LiveClient(server.url)
    token = client.token()  # pre-login session: the cookie and token stay valid for reuse
    form = {"username": "editor", "password": PASSWORD, "csrf_token": token}
    db = sqlite3.connect(server.data_dir / "portal.sqlite3")

    def rows() -> int:
        return db.execute("SELECT COUNT(*) FROM login_sessions WHERE user_id = "
                          "(SELECT id FROM users WHERE username = 'editor')").fetchone()[0]

    before = rows()
    with Traffic(server, [post("/login", form, client.cookie_header())], threads=3) as traffic:
        wait_for_traffic(traffic, "before", 10)
        traffic.mark("kill")
        victim = kill_worker(server)
        wait_for_workers(server, gone=victim)
        traffic.mark("after")
        wait_for_traffic(traffic, "after", 10)
    succeeded = sum(traffic.count(p, lambda s: s == 302) for p in ("before", "kill", "after"))
    assert sum(traffic.count(p) for p in ("before", "kill", "after")) == succeeded
    assert traffic.failures["kill"] <= traffic.threads
    # Every acknowledged write is there; at most the in-flight ones are extra.
    assert succeeded <= rows() - before <= succeeded + traffic.failures["kill"]
    db.close()


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
    client = LiveClient(server.url)
    assert client.login() == 302
    removed = delete_caches(server.data_dir)
    assert "ratelimit.sqlite3" in removed
    status, html = LiveClient(server.url).request("/policies/refunds")
    assert status == 200 and CANARY_BLOCK not in html
    assert client.request("/policies/refunds")[1].count(CANARY_BLOCK) == 1  # still signed in
    assert LiveClient(server.url).login("editor") == 302  # the limiter file is recreated
    # A damaged cache file (disk trouble, a bad restore) is set aside and rebuilt.
    for name in ("ratelimit.sqlite3-wal", "ratelimit.sqlite3-shm"):
        (server.data_dir / name).unlink(missing_ok=True)
    (server.data_dir / "ratelimit.sqlite3").write_bytes(b"\0garbage" * 512)
    assert LiveClient(server.url).login("admin") == 302
    assert LiveClient(server.url).login("admin") == 302


def test_held_locks_delay_but_do_not_break(server):
    """A stuck process holding the migration lock or the database write lock: reading goes
    on, sign-in waits for the write lock, a new worker waits for the migration lock; both
    carry on once the lock is released."""
    with held_flock(server.data_dir / "portal.sqlite3.lock"):
        victim = kill_worker(server)
        assert LiveClient(server.url).request("/")[0] == 200
    wait_for_workers(server, gone=victim)
    release = threading.Event()

    def hold_write_lock():
        with held_sqlite_write(server.data_dir / "portal.sqlite3"):
            release.wait(1.5)

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    try:
        time.sleep(0.2)
        assert LiveClient(server.url).request("/policies/refunds")[0] == 200  # WAL: no wait
        started = time.monotonic()
        assert LiveClient(server.url).login() == 302  # writes its session row after the lock
        assert time.monotonic() - started > 0.5
    finally:
        release.set()
        holder.join()


def wait_for_traffic(traffic: Traffic, phase: str, at_least: int = 50) -> None:
    from tests.faults import wait_for

    wait_for(lambda: traffic.count(phase) >= at_least, 20, f"{at_least} responses in {phase}")
