"""Fault-drill helpers for live-server tests: background traffic, killing workers, held locks.

A drill is: start ``Traffic`` against a ``LiveServer``, inject a fault (``kill_worker``,
``held_flock``, ``held_sqlite_write``, deleting files, ``kill_group`` of a ``kb`` command),
stop the traffic and assert on what the clients saw (``Traffic.statuses``,
``Traffic.failures``) and on what the server still has (``git_fsck``).  ``Saver`` is the
request function of an editor saving through the real edit form.
"""

from __future__ import annotations

import fcntl
import html
import http.client
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from tests.live import ROOT, USER_AGENT, LiveServer

Request = Callable[[http.client.HTTPConnection], int]


def get(path: str) -> Request:
    """A request function: GET ``path`` and return the status (body read and dropped)."""
    def run(conn: http.client.HTTPConnection) -> int:
        conn.request("GET", path)
        res = conn.getresponse()
        res.read()
        return res.status
    return run


def post(path: str, form: dict | Callable[[], dict], cookie: str = "") -> Request:
    """A request function: POST a form (``form`` may be a callable making a fresh one, e.g.
    with a new CSRF token or text), sending ``cookie`` (``LiveClient.cookie_header()``)."""
    from urllib.parse import urlencode

    def run(conn: http.client.HTTPConnection) -> int:
        body = urlencode(form() if callable(form) else form)
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        res = conn.getresponse()
        res.read()
        return res.status
    return run


class Traffic:
    """``threads`` clients repeating ``requests`` in a loop until ``stop()``.

    Statuses are counted per phase (``mark(name)`` switches phase), connection failures
    (a worker killed mid-request) are kept apart from HTTP statuses.
    """

    def __init__(self, server: LiveServer, requests: list[Request], threads: int = 4):
        parts = urlsplit(server.url)
        self.host, self.port = parts.hostname, parts.port
        self.requests = requests
        self.threads = threads
        self.phase = "before"
        self.statuses: dict[str, Counter] = {}
        self.failures: dict[str, int] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def mark(self, phase: str) -> None:
        with self._lock:
            self.phase = phase

    def _record(self, status: int | None) -> None:
        with self._lock:
            if status is None:
                self.failures[self.phase] += 1
            else:
                self.statuses.setdefault(self.phase, Counter())[status] += 1

    def _loop(self, index: int) -> None:
        conn = None
        n = index
        while not self._stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                status = self.requests[n % len(self.requests)](conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                status = None
                time.sleep(0.01)
            self._record(status)
            n += 1
        if conn is not None:
            conn.close()

    def __enter__(self) -> Traffic:
        for i in range(self.threads):
            thread = threading.Thread(target=self._loop, args=(i,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=15)

    def count(self, phase: str, predicate: Callable[[int], bool] = lambda s: True) -> int:
        return sum(n for status, n in self.statuses.get(phase, Counter()).items()
                   if predicate(status))


def wait_for(condition: Callable[[], bool], timeout: float = 20, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")


def kill_worker(server: LiveServer, sig: int = signal.SIGKILL) -> int:
    """Kill one gunicorn worker; returns its pid.  The master must replace it."""
    pids = server.worker_pids()
    assert pids, "no workers to kill"
    os.kill(pids[0], sig)
    return pids[0]


def wait_for_workers(server: LiveServer, gone: int, timeout: float = 30) -> list[int]:
    """Wait until the master runs its full complement of workers again, without ``gone``."""
    def ready() -> bool:
        pids = server.worker_pids()
        return len(pids) == server.workers and gone not in pids
    wait_for(ready, timeout, f"{server.workers} workers after killing {gone}")
    return server.worker_pids()


@contextmanager
def held_flock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (as a stuck process would)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def held_sqlite_write(path: str | os.PathLike) -> Iterator[None]:
    """Hold SQLite's write lock on ``path`` (an open write transaction) until the block ends."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def delete_caches(data_dir: Path, keep: tuple[str, ...] = ("portal.sqlite3", "secret_key",
                                                           "gunicorn.pid", "server.log")
                  ) -> list[str]:
    """Delete everything in the data dir that is not the source of truth; returns names."""
    import shutil

    removed = []
    for item in data_dir.iterdir():
        if item.name in keep or item.name.startswith("portal.sqlite3-"):
            continue
        if item.is_dir():
            shutil.rmtree(item)
        else:
            item.unlink()
        removed.append(item.name)
    return sorted(removed)


class Saver:
    """A request function saving ``path`` (``/edit/policies/<slug>``) through the edit form:
    GET it for the CSRF token and ``base_rev``, then POST the body with a new marker line and
    the marker in the commit message.  Markers of saves the server acknowledged (302) are
    kept in ``acknowledged``; a 409 (someone saved first) is an honest refusal."""

    _TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
    _BASE = re.compile(r'name="base_rev" value="([^"]*)"')
    _BODY = re.compile(r'<textarea name="body"[^>]*>(.*?)</textarea>', re.S)

    def __init__(self, path: str, cookie: str):
        self.path, self.cookie = path, cookie
        self.acknowledged: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, conn: http.client.HTTPConnection) -> int:
        from urllib.parse import urlencode

        conn.request("GET", self.path, headers={"Cookie": self.cookie, "User-Agent": USER_AGENT})
        res = conn.getresponse()
        page = res.read().decode()
        self._keep_cookie(res)
        if res.status != 200:
            return res.status
        marker = "drill" + uuid.uuid4().hex[:12]
        body = html.unescape(self._BODY.search(page).group(1))
        kept = [line for line in body.splitlines() if not line.startswith("Saved by drill")]
        form = {"csrf_token": self._TOKEN.search(page).group(1),
                "base_rev": self._BASE.search(page).group(1), "title": "Drill",
                # internal: these publish at once (no approval; tests/test_proposals_http.py)
                "audience": "internal", "body": "\n".join([*kept, f"Saved by {marker}."]),
                "message": f"Drill save {marker}"}
        conn.request("POST", self.path, body=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie,
            "User-Agent": USER_AGENT})
        res = conn.getresponse()
        res.read()
        self._keep_cookie(res)
        if res.status == 302:
            with self._lock:
                self.acknowledged.append(marker)
        return res.status


    def _keep_cookie(self, res: http.client.HTTPResponse) -> None:
        """The session cookie changes when the CSRF secret is first stored: keep the latest."""
        for header, value in res.getheaders():
            if header.lower() == "set-cookie" and value.startswith("session="):
                with self._lock:
                    self.cookie = value.split(";", 1)[0]


def git_fsck(root: Path) -> str:
    """``git fsck --full`` output; raises when the repository is damaged.  Dangling objects
    (a blob written by a save killed before its commit) are harmless and allowed."""
    out = subprocess.run(["git", "-C", str(root), "fsck", "--full", "--no-progress"],
                         capture_output=True, text=True, timeout=60)
    problems = [line for line in (out.stdout + out.stderr).splitlines()
                if line and not line.startswith(("dangling ", "notice:"))]
    assert out.returncode == 0 and not problems, out.stdout + out.stderr
    return out.stdout


def kb_command(server: LiveServer, *args: str) -> subprocess.Popen:
    """Start ``flask --app wsgi kb ...`` against the server's data, in its own process group
    (so ``kill_group`` takes its helper processes too, as a crash of the machine would)."""
    flask = str(Path(sys.executable).with_name("flask"))
    return subprocess.Popen([flask, "--app", "wsgi", "kb", *args], cwd=ROOT, env=server.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
