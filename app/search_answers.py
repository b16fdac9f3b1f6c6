"""What a search answers, and answers shared by every worker until the index changes.

Each worker keeps recent answers in memory, keyed by the index build (every index write
changes it).  After a write every worker would compute the same answers again, once each,
for the same few queries agents are typing; ``AnswerStore`` keeps each answer on disk under
``KB_DATA_DIR/answers/<build>/`` so the first worker to compute it saves the others the
work.  The key names the audience's index, so an answer is only ever read back by a viewer
of the same audience.  Entries of older builds are deleted as new builds appear.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from markupsafe import Markup

KEEP_OLD_BUILDS_SECONDS = 10.0  # a worker may still be answering from the previous build


def with_highlight(url: str, words: str) -> str:
    """``/policies/x?hl=words#sec-y``: the target page marks the words."""
    base, _, fragment = url.partition("#")
    query = f"?{urlencode({'hl': words})}" if words else ""
    return base + query + (f"#{fragment}" if fragment else "")


@dataclass
class Hit:
    title: str
    url: str
    section: str
    snippet: Markup
    link: str = ""


@dataclass
class Result:
    title: str
    url: str  # best place to land: the best matching section, else the document
    kind: str
    audience: str
    snippet: Markup
    highlight: str  # words to mark on the target page (?hl=)
    sections: list[Hit] = field(default_factory=list)

    @property
    def link(self) -> str:
        return with_highlight(self.url, self.highlight)


@dataclass
class Answer:
    query: str
    audience: str
    count: int = 0
    results: list[Result] = field(default_factory=list)
    suggestion: str | None = None
    fallback: bool = False  # True when no document had every word (any-word results)
    more: bool = False  # True when there may be more matching documents than ``count``


def _from_dict(data: dict) -> Answer:
    results = []
    for r in data["results"]:
        hits = [Hit(h["title"], h["url"], h["section"], Markup(h["snippet"]),  # noqa: S704
                    h["link"]) for h in r["sections"]]
        results.append(Result(r["title"], r["url"], r["kind"], r["audience"],
                              Markup(r["snippet"]), r["highlight"], hits))  # noqa: S704
    return Answer(query="", audience=data["audience"], count=data["count"], results=results,
                  suggestion=data["suggestion"], fallback=data["fallback"], more=data["more"])


class AnswerStore:
    """Answers on disk, one folder per index build (see the module docstring)."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: tuple) -> Path:
        build, rest = str(key[0]), repr(key[1:]).encode("utf-8", "replace")
        return self.root / build / hashlib.sha256(rest).hexdigest()

    def get(self, key: tuple) -> Answer | None:
        try:
            data = json.loads(self._path(key).read_bytes())
            if data.get("key") != repr(key):  # a hash collision, or a damaged entry
                return None
            return _from_dict(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: tuple, answer: Answer) -> None:
        path = self._path(key)
        try:
            new_build = not path.parent.is_dir()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps({"key": repr(key), **asdict(answer)}), "utf-8")
            os.replace(tmp, path)
            if new_build:
                self._prune(keep=path.parent.name)
        except OSError:  # a full or read-only disk: answers are computed, just not shared
            pass

    def _prune(self, keep: str) -> None:
        cutoff = time.time() - KEEP_OLD_BUILDS_SECONDS
        for folder in self.root.iterdir():
            try:
                if folder.name != keep and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass
