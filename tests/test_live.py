"""Multi-process behaviour against real gunicorn: shared login limit and fault drills.

These start servers, so they are few, bounded in time, and marked ``slow``.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time

import pytest

from tests.conftest import CANARY_BLOCK, FIXTURE_DOCS, PASSWORD
from tests.faults import (
    Saver,
    Traffic,
    delete_caches,
    get,
    git_fsck,
    held_flock,
    held_sqlite_write,
    kb_command,
    kill_group,
    kill_worker,
    post,
    wait_for,
    wait_for_workers,
)
from tests.history_helpers import commit, git_out
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


# Added by the reindex drill: enough documents that a full index build takes a moment (a
# kill can land inside it), few enough that it stays in one process (search_index.build).
FILLER = {f"policies/filler-{i:03d}.md": (
    f"---\ntitle: Filler {i}\naudience: public\n---\n" + "Parcels and refunds. " * 80 +
    f"\n\n## Section {i}\n\n" + "Delivery windows and returns. " * 80 + "\n")
    for i in range(150)}
DRILL_DOCS = {f"policies/drill-{i}.md": f"---\ntitle: Drill {i}\naudience: internal\n---\nStart.\n"
              for i in range(3)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data, content = prepare_dirs(tmp_path_factory.mktemp("drills"),
                                 {**FIXTURE_DOCS, **DRILL_DOCS})
    with LiveServer(data, content, workers=2, threads=2) as live:
        yield live


PAGES = [get("/"), get("/policies/refunds"), get("/faq/track-order"), get("/healthz")]


def test_kill_worker_during_traffic(server):
    with Traffic(server, PAGES, threads=4) as traffic:
        kill_a_worker_mid_traffic(server, traffic, after=200)
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
        kill_a_worker_mid_traffic(server, traffic, before=10, after=10)
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


def staff_reader(server) -> LiveClient:
    """A signed-in agent: the drill documents are internal (their saves need no approval)."""
    reader = LiveClient(server.url)
    reader.login("agent")
    return reader


def editor_cookie(server) -> str:
    client = LiveClient(server.url)
    assert client.login("editor") == 302
    client.request("/new")  # stores the CSRF secret in the session: the cookie is final now
    return client.cookie_header()


def search_hits(server, q: str = "refund") -> int:
    status, body = LiveClient(server.url).request(f"/api/search?q={q}")
    assert status == 200, body[:500]
    return json.loads(body)["count"]


def test_kill_worker_during_saves_loses_nothing_acknowledged(server):
    """kill -9 a worker while editors save: every save a client saw succeed (302) is a commit;
    the repository stays fsck-clean, the work tree matches HEAD, and saving goes on."""
    cookie = editor_cookie(server)
    savers = [Saver(f"/edit/policies/drill-{i}", cookie) for i in range(3)]
    with Traffic(server, savers, threads=3) as traffic:
        kill_a_worker_mid_traffic(server, traffic, before=6, after=6)
    for phase in ("before", "kill", "after"):
        assert traffic.count(phase, lambda s: s not in (200, 302, 409)) == 0, traffic.statuses
    assert traffic.count("after", lambda s: s == 302) > 0, traffic.statuses  # saving goes on
    assert traffic.failures["kill"] <= traffic.threads
    messages = git_out(server.content_dir, "log", "--format=%s")
    acknowledged = [m for s in savers for m in s.acknowledged]
    assert acknowledged and all(f"Drill save {m}" in messages for m in acknowledged)
    git_fsck(server.content_dir)
    # A save killed after its commit is finished by the next writer: the files match HEAD.
    assert git_out(server.content_dir, "status", "--porcelain", "--untracked-files=no") == ""
    for i in range(3):
        last = git_out(server.content_dir, "log", "-1", "--format=%s", "--",
                       f"policies/drill-{i}.md").split()[-1]
        assert f"Saved by {last}." in staff_reader(server).request(f"/policies/drill-{i}")[1]


def test_kill_reindex_midway(server):
    """kill -9 ``kb reindex`` (and its helpers) in the middle of a build: search keeps
    answering from the previous index, and the next reindex completes."""
    head = commit(server.content_dir, FILLER, "Filler documents for the reindex drill")

    def indexed() -> bool:
        search_hits(server, "parcels")  # a search brings the index up to HEAD
        state = server.data_dir / "index" / "STATE"
        return state.exists() and head in state.read_text()

    wait_for(indexed, 60, "the filler documents indexed")
    before = search_hits(server)
    caught = False
    with Traffic(server, [get("/api/search?q=parcels"), get("/api/search?q=refnud")],
                 threads=2) as traffic:
        for _ in range(5):  # until a kill lands inside the build (its temp dir is left)
            proc = kb_command(server, "reindex")
            wait_for(lambda p=proc: p.poll() is not None
                     or any((server.data_dir / "index").glob(".build-*")), 30, "a build")
            if proc.poll() is None:
                time.sleep(0.05)  # into the build (150 documents take about a second)
                kill_group(proc)
                caught = any((server.data_dir / "index").glob(".build-*"))
            if caught:
                break
        traffic.mark("after")
        assert search_hits(server) == before
        wait_for_traffic(traffic, "after", 20)
    assert caught, "the build always finished before the kill"
    assert sum(traffic.failures.values()) == 0
    for phase in ("before", "after"):
        assert traffic.count(phase, lambda s: s != 200) == 0, traffic.statuses
    done = kb_command(server, "reindex")
    out, _ = done.communicate(timeout=120)
    assert done.returncode == 0, out
    assert search_hits(server) == before


def test_deleted_search_index_recovers_by_itself(server):
    """Delete the whole index directory under a running server: searches keep answering
    (never an error) and find results again without anyone running a command."""
    before = search_hits(server)
    assert before > 0
    with Traffic(server, [get("/api/search?q=refund"), get("/search?q=parcels")],
                 threads=3) as traffic:
        wait_for_traffic(traffic, "before", 10)
        traffic.mark("deleted")
        # Moved away first, so the directory vanishes at once: a recursive delete would race
        # with the rebuild that the missing files start.
        gone = server.data_dir / "index-deleted"
        (server.data_dir / "index").rename(gone)
        shutil.rmtree(gone, ignore_errors=True)  # a builder may still write in there
        wait_for(lambda: search_hits(server) == before, 30, "search to recover")
        traffic.mark("after")
        wait_for_traffic(traffic, "after", 10)
    assert sum(traffic.failures.values()) == 0
    for phase in ("before", "deleted", "after"):
        assert traffic.count(phase, lambda s: s != 200) == 0, traffic.statuses
    assert (server.data_dir / "index" / "STATE").exists()


def test_held_write_lock_delays_a_save(server):
    """A stuck process holding the write lock: reading goes on, a save waits for the lock
    and then succeeds (no error page, nothing lost)."""
    cookie = editor_cookie(server)
    saver = Saver("/edit/policies/drill-0", cookie)
    outcome: list[int] = []
    with held_flock(server.data_dir / "write.lock"):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        thread = threading.Thread(target=lambda: outcome.append(saver(conn)))
        started = time.monotonic()
        thread.start()
        time.sleep(1.0)
        assert outcome == []  # still waiting for the lock
        assert staff_reader(server).request("/policies/drill-0")[0] == 200
    thread.join(timeout=30)
    assert outcome == [302] and time.monotonic() - started >= 1.0
    marker = saver.acknowledged[0]
    assert f"Saved by {marker}." in staff_reader(server).request("/policies/drill-0")[1]


def kill_a_worker_mid_traffic(server, traffic: Traffic, *, before: int = 50,
                              after: int = 50) -> None:
    """Phases "before", "kill" (kill -9 one worker until the master replaced it), "after"."""
    wait_for_traffic(traffic, "before", before)
    traffic.mark("kill")
    victim = kill_worker(server)
    wait_for_workers(server, gone=victim)
    traffic.mark("after")
    wait_for_traffic(traffic, "after", after)


def wait_for_traffic(traffic: Traffic, phase: str, at_least: int = 50) -> None:
    from tests.faults import wait_for

    wait_for(lambda: traffic.count(phase) >= at_least, 20, f"{at_least} responses in {phase}")
