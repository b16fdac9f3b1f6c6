"""Array scoring ranks exactly as Whoosh does: same records, same scores, same order.

The index here is built directly with the portal's schema from a small vocabulary, so
words repeat, many records tie, and several segments with deletions exist.
"""

from __future__ import annotations

import random

import pytest
from whoosh import index as windex
from whoosh import query as Q

from app.search import scoring as search_scoring
from app.search.index import make_schema
from app.search.query import FIELD
from app.search.service import service
from tests.history_helpers import commit

WORDS = ["refund", "return", "parcel", "delai", "custom", "credit", "label", "window",
         "courier", "damag", "exchang", "voucher"]


def record(rng: random.Random, n: int) -> dict:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
    return {"id": f"r{n}", "path": f"p{n % 40}.md", "kind": rng.choice(["policy", "faq"]),
            "content": text, "text": text,
            "tags": rng.choice(["refunds", "shipping", "refunds,shipping"])}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    """Three segments; the later ones delete records of the earlier ones."""
    rng = random.Random(7)
    ix = windex.create_in(str(tmp_path_factory.mktemp("ix")), make_schema())
    n = 0
    for batch in range(3):
        writer = ix.writer()
        if batch:
            for path in rng.sample(range(40), 6):
                writer.delete_by_term("path", f"p{path}.md")
        for _ in range(400):
            writer.add_document(**record(rng, n))
            n += 1
        writer.commit(merge=False)
    with ix.searcher() as s:
        assert len(s.leaf_searchers()) == 3 and s.doc_count() < s.doc_count_all()
        yield s


def T(word: str, boost: float = 1.0) -> Q.Term:  # reads like the query class
    return Q.Term(FIELD, word, boost=boost)


QUERIES = {
    "one word": T("refund"),
    "absent word": T("quokka"),
    "two words": Q.And([T("refund"), T("parcel")]),
    "three words": Q.And([T("refund"), T("parcel"), T("delai")]),
    "any word": Q.Or([T("voucher"), T("courier")]),
    "typo options": Q.Or([T("refnud"), T("refund", 0.3), T("return", 0.3)]),
    "synonym group with a phrase": Q.Or([T("refund"), Q.Phrase(FIELD, ["credit", "label"])]),
    "phrase": Q.Phrase(FIELD, ["refund", "parcel"]),
    "three-word phrase": Q.Phrase(FIELD, ["return", "label", "window"]),
    "phrase and word": Q.And([Q.Phrase(FIELD, ["parcel", "delai"]), T("voucher")]),
    "word and tag": Q.And([T("damag"), Q.Term("tags", "shipping")]),
    "word and kind": Q.And([T("exchang"), Q.Term("kind", "faq")]),
    "filters only": Q.And([Q.Every(), Q.Term("tags", "refunds"), Q.Term("kind", "policy")]),
    "fallback": Q.And([Q.Or([T("window"), T("custom")]), Q.Term("kind", "faq")]),
    "boosted group": Q.And([Q.Or([T("label"), T("credit")], boost=2.0), T("delai")]),
}


def canonical(hits) -> list[int]:
    """Best first, equal scores in record order.  Scores are compared to 9 decimals: Whoosh
    adds a query's parts in another order, which moves the last bits of a float."""
    return [docnum for _s, docnum in sorted((-round(score, 9), docnum) for docnum, score in hits)]


@pytest.mark.parametrize("limit", [1, 7, 70, 5000])
@pytest.mark.parametrize("label", QUERIES)
def test_top_records_match_whoosh(searcher, label, limit):
    query = QUERIES[label]
    every = searcher.search(query, limit=None)
    docnums, total = search_scoring.top(searcher, query, limit)
    assert total == len(every)
    assert total > 0 or label == "absent word"
    assert docnums == canonical((hit.docnum, hit.score) for hit in every)[:limit]


BEST_OF = [[T("cred"), T("credit", 0.5), T("courier", 0.5)],
           [T("voucher"), T("refund", 0.5), T("return", 0.5), T("label", 0.5)]]


@pytest.mark.parametrize("parts", BEST_OF)
def test_best_of_scores_each_record_by_its_best_part(searcher, parts):
    """``DisjunctionMax`` (a word being typed and its completions).  Whoosh's own matcher
    sometimes scores a record with a part matching another record, so the reference here
    is each part searched alone."""
    best: dict[int, float] = {}
    for part in parts:
        for hit in searcher.search(part, limit=None):
            best[hit.docnum] = max(best.get(hit.docnum, 0.0), hit.score)
    docnums, total = search_scoring.top(searcher, Q.DisjunctionMax(parts), 5000)
    assert total == len(best) > 0
    assert docnums == canonical(best.items())


def test_boosted_groups_rank_exactly_where_whooshs_top_k_does_not(searcher):
    """Whoosh's top-k skips blocks by a quality estimate that ignores a group's boost, so
    with ``limit=1`` it returns a record that is not the best; scoring everything does."""
    query = QUERIES["boosted group"]
    best = max(searcher.search(query, limit=None), key=lambda hit: hit.score)
    assert search_scoring.top(searcher, query, 1)[0] == [best.docnum]
    assert [hit.docnum for hit in searcher.search(query, limit=1)] != [best.docnum]


@pytest.mark.parametrize("label", ["one word", "phrase", "typo options", "boosted group"])
def test_scores_are_whooshs(searcher, label):
    query = QUERIES[label]
    expected = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
    for sub, offset in searcher.leaf_searchers():
        found = search_scoring.evaluate(sub, query)
        for docnum, score in zip(found.ids.tolist(), found.scores.tolist(), strict=True):
            assert score == pytest.approx(expected[docnum + offset], rel=1e-12)


def test_deleted_records_are_never_returned(searcher):
    docnums, _total = search_scoring.top(searcher, Q.Every(), 5000)
    assert docnums and not any(searcher.reader().is_deleted(n) for n in docnums)
    assert len(docnums) == searcher.doc_count()


def test_phrase_needs_the_words_in_order(searcher):
    forward = set(search_scoring.top(searcher, Q.Phrase(FIELD, ["refund", "parcel"]), 5000)[0])
    both = set(search_scoring.top(searcher, Q.And([T("refund"), T("parcel")]), 5000)[0])
    assert forward and forward < both
    for docnum in both:
        text = f" {searcher.stored_fields(docnum)['text']} "
        assert (" refund parcel " in text) == (docnum in forward)


def test_equal_scores_keep_the_earlier_record(searcher):
    docnums, _total = search_scoring.top(searcher, Q.And([Q.Every(), Q.Term("kind", "faq")]), 50)
    assert docnums == sorted(docnums)  # every record scores the same: index order


# -- in the portal ---------------------------------------------------------------------------
def test_every_match_is_ranked_and_more_is_reported(app, content_dir):
    from app.content.audience import PUBLIC

    pages = {f"faq/quokka-{n}.md": "---\naudience: public\n---\n" + "quokka " * n
             for n in (1, 3, 2)}
    commit(content_dir, pages, "Add pages")
    with app.app_context():
        few = service().search("quokka", PUBLIC, limit=1)
        many = service().search("quokka", PUBLIC, limit=50)
    assert [r.url for r in many.results] == ["/faq/quokka-3", "/faq/quokka-2", "/faq/quokka-1"]
    assert (many.count, many.more) == (3, False)
    assert [r.url for r in few.results] == ["/faq/quokka-3"]
    assert (few.count, few.more) == (3, False)  # counted, though only the best is listed


def test_more_when_matches_go_beyond_what_was_fetched(app, content_dir, monkeypatch):
    from app.content.audience import PUBLIC
    from app.search import results as search_results

    monkeypatch.setattr(search_results, "depth", lambda limit: limit)
    commit(content_dir, {f"faq/quokka-{n}.md": "---\naudience: public\n---\nquokka\n"
                         for n in range(3)}, "Add pages")
    with app.app_context():
        answer = service().search("quokka", PUBLIC, limit=2)
    assert (answer.count, answer.more) == (2, True)


def test_whooshs_own_search_answers_if_array_scoring_fails(app, monkeypatch, caplog):
    from app.content.audience import PUBLIC
    from app.search import results as search_module

    with app.app_context():
        expected = [r.url for r in service().search("refund", PUBLIC).results]

    def broken(*_args):
        raise ValueError("unknown segment format")

    monkeypatch.setattr(search_module, "top", broken)
    with app.app_context():
        answer = service().search("refunds", PUBLIC)  # not the cached query
    assert [r.url for r in answer.results] == expected != []
    assert "array scoring failed" in caplog.text
