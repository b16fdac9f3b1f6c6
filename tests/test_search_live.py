"""Search across gunicorn workers: a commit is searchable from every worker within a second."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from tests.conftest import FIXTURE_DOCS, git, make_repo
from tests.live import LiveServer

pytestmark = pytest.mark.slow


def count(server: LiveServer, q: str) -> int:
    with urllib.request.urlopen(f"{server.url}/api/search?q={q}", timeout=10) as res:  # noqa: S310
        return json.load(res)["count"]


def test_commit_visible_from_every_worker_within_a_second(tmp_path):
    content = make_repo(tmp_path / "content", FIXTURE_DOCS)
    with LiveServer(tmp_path / "data", content, workers=3, threads=2) as server:
        assert count(server, "platypus") == 0
        for n in range(3):  # three commits in a row, each searched at once by many threads
            word = ["platypus", "echidna", "bilby"][n]
            (content / "faq" / f"{word}.md").write_text(
                f"---\naudience: public\ntitle: {word}\n---\nAbout the {word}.\n")
            git(content, "add", "-A")
            git(content, "commit", "-q", "-m", f"Add {word}")
            committed = time.monotonic()
            seen: list[float] = []
            errors: list[BaseException] = []

            def poll(word=word, committed=committed, seen=seen, errors=errors):
                try:
                    while time.monotonic() - committed < 5:
                        if count(server, word) == 1:
                            seen.append(time.monotonic() - committed)
                            return
                        time.sleep(0.05)
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=poll) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert len(seen) == 8 and max(seen) < 1.0, seen
            # every worker answers from the updated index
            assert all(count(server, word) == 1 for _ in range(12))
        log = server.log.read_text()
        assert "LockError" not in log and "Traceback" not in log and "IndexBusy" not in log
