"""A real server for end-to-end tests: gunicorn (several workers) on a free loopback port."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Sign-in sessions are bound to the client's address and User-Agent (Flask-Login "strong"
# protection): raw http.client requests reusing a LiveClient's cookie send the same agent.
USER_AGENT = "kb-live-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """Start gunicorn on ``wsgi:app`` with its own data and content directories.

    ``env`` adds environment variables (KB_* settings).  Use as a context manager; the
    server is killed (whole process group) on exit.
    """

    def __init__(self, data_dir: Path, content_dir: Path, *, workers: int = 2,
                 env: dict[str, str] | None = None, threads: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir, self.content_dir = data_dir, content_dir
        self.workers, self.threads = workers, threads
        self.env = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_CONTENT_DIR": str(content_dir),
                    "SECRET_KEY": "live-test-secret-key-0123456789abcdef",
                    "KB_LOGIN_LIMIT": "1000 per minute",
                    "KB_LOGIN_ADDRESS_LIMIT": "1000 per minute",
                    "KB_SEARCH_LIMIT": "100000 per minute", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    def start(self) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.proc = subprocess.Popen(
            [gunicorn, "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             "--threads", str(self.threads), "--worker-class", "gthread", "--timeout", "60",
             "--graceful-timeout", "5", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as res:  # noqa: S310
                    if res.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def prepare_dirs(base: Path, files: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A content repository of ``files`` (default: the fixture documents) and a data dir
    holding the three fixture accounts; returns (data_dir, content_dir)."""
    from app.accounts.auth import add_user
    from app.db import connect, migrate
    from tests.conftest import FIXTURE_DOCS, PASSWORD, make_repo

    content = make_repo(base / "content", files if files is not None else FIXTURE_DOCS)
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    db_path = data / "portal.sqlite3"
    conn = connect(db_path)
    migrate(conn, str(db_path) + ".lock")
    for name, role in (("agent", "agent"), ("editor", "editor"), ("admin", "admin")):
        add_user(conn, name, PASSWORD, role)
    conn.close()
    return data, content


class LiveClient:
    """A cookie-keeping client that opens a new connection per request (any worker answers)."""

    def __init__(self, base: str, *, follow_redirects: bool = False, timeout: float = 20):
        self.base, self.timeout = base, timeout
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar)]
        if not follow_redirects:  # see the 302 itself (a browser would follow it)
            handlers.append(_NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=self.timeout) as res:
                return res.status, res.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def token(self) -> str:
        _, html = self.request("/login")
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    def cookie_header(self) -> str:
        """The session cookie as a ``Cookie`` header, for ``tests.faults`` request functions."""
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def login(self, username: str = "agent", password: str | None = None) -> int:
        from tests.conftest import PASSWORD

        password = PASSWORD if password is None else password
        return self.request("/login", {"username": username, "password": password,
                                       "csrf_token": self.token()})[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
