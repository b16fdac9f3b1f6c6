"""Completions hold for every prefix: a property of the bundled content.

For every word of the bundled documents, each prefix of three letters or more, typed as the
last word of a query, returns a result that contains the word ("escala", "escalat",
"escalate" all find "escalation").  Stop words ("the", "into") are the exception by design:
alone they find nothing (see ``test_bad_input_gets_a_clear_answer``)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from app import create_app
from app.content.audience import STAFF, project
from app.content.store import store
from app.search.analysis import STOP_WORDS, words
from app.search.index import FRONT_WORDS, plain
from app.search.query import PREFIX_MIN
from app.search.service import MAX_LIMIT, service


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    base = tmp_path_factory.mktemp("bundled")
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32, "KB_DATA_DIR": str(base / "data"),
                      "KB_CONTENT_DIR": str(base / "content")})
    result = app.test_cli_runner().invoke(args=["kb", "init", "--no-admin"])
    assert result.exit_code == 0, result.output
    return app


def _shown_words(doc) -> set[str]:
    """Every word a reader of the document sees (title, summary, tags, keywords, text)."""
    shown = project(doc, viewer=STAFF)
    front = " ".join(str(shown.meta.get(name, "")) for name in FRONT_WORDS)
    text = " ".join([shown.title, shown.summary, " ".join(shown.tags), front, plain(shown.body)])
    return {w for w in words(text) if w.isalpha() and w not in STOP_WORDS}


def test_every_prefix_of_every_bundled_word_finds_it(bundled):
    with bundled.app_context():
        docs = store().all()
        assert len(docs) > 40
        holding: dict[str, set[str]] = defaultdict(set)  # word -> urls of documents
        for doc in docs:
            for word in _shown_words(doc):
                holding[word].add(doc.url)
        prefixes: dict[str, set[str]] = defaultdict(set)
        for word in holding:
            for end in range(PREFIX_MIN, len(word) + 1):
                prefixes[word[:end]].add(word)
        misses = []
        svc = service()
        for prefix, wanted in sorted(prefixes.items()):
            found = {r.url.split("#")[0] for r in svc.search(prefix, STAFF, MAX_LIMIT).results}
            misses += [(prefix, w) for w in sorted(wanted) if not holding[w] & found]
    assert len(prefixes) > 3000
    assert misses == [], f"{len(misses)} of {sum(map(len, prefixes.values()))}: {misses[:20]}"
