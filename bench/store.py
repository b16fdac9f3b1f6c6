"""Benchmark: the content store serving the committed tree of a 10,000-document repository.

    .venv/bin/python bench/store.py [--docs 10000]

Prints medians (milliseconds) for: the first catalogue (cold: every blob read and parsed),
a warm catalogue and a single document per request (HEAD unchanged), the catalogue after a
commit of one file (only that path looked up again), a fresh store over the same repository
(tree listed again, parses all cached: as after a reset), and ``snapshot`` of the previous
head; each through pygit2 and through the git CLI (as in a SHA-256 repository).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.content.store import ContentStore
from app.repo import gitwrite
from app.repo.gitrepo import GitRepo


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=b", "-c", "user.email=b@b",
                           *args], check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, docs: int) -> None:
    git(root.parent, "init", "-q", "-b", "main", str(root))
    for i in range(docs):
        folder = root / ("policies" if i % 3 else "faq") / f"group-{i % 50}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc-{i}.md").write_text(
            f"---\ntitle: Document {i}\naudience: {'public' if i % 2 else 'internal'}\n"
            f"tags: [t{i % 20}]\n---\n# Document {i}\n\n" + "Some policy text. " * 60 + "\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Corpus")


def median_ms(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def run(root: Path, label: str) -> None:
    repo = GitRepo(root)
    store = ContentStore(root, repo=repo, moves=repo.moves.between)
    start = time.perf_counter()
    docs = store.all()
    cold = (time.perf_counter() - start) * 1000
    warm = median_ms(store.all, 200)
    one = median_ms(lambda: store.get("policy", "group-1/doc-1"), 2000)
    commits = []
    for n in range(5):
        target = root / "policies/group-1/doc-1.md"
        target.write_text(target.read_text() + f"\nEdit {n}.\n")
        git(root, "commit", "-qam", f"Edit {n}")
        start = time.perf_counter()
        store.all()
        commits.append(time.perf_counter() - start)
    previous = git(root, "rev-parse", "HEAD~1").strip()
    fresh = ContentStore(root, repo=repo)
    fresh._parsed = store._parsed  # as the same store after a reset: parses kept
    relist = median_ms(lambda: (setattr(fresh, "_tree", store._tree.__class__("", {}, {})),
                                fresh.all()), 5)
    snapshot = median_ms(lambda: store.snapshot(previous), 5)
    print(f"{label:8} {len(docs)} docs  cold {cold:8.1f}  warm all() {warm:6.3f}  "
          f"get() {one:6.3f}  after a commit {statistics.median(commits) * 1000:6.1f}  "
          f"relist {relist:7.1f}  snapshot(old head) {snapshot:7.1f}  (ms, medians)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=10_000)
    args = parser.parse_args()
    print(f"bench/store.py  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "content"
        make_repo(root, args.docs)
        run(root, "pygit2")
        gitwrite.ENABLED = False
        run(root, "git CLI")


if __name__ == "__main__":
    main()
