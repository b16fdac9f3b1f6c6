"""Search: query features, section links, grouping, audience safety, analytics, recovery."""

from __future__ import annotations

import logging
import os

import pytest

from app import create_app
from app.content.audience import PUBLIC, STAFF, Viewer
from app.content.render import render
from app.search import service as search
from app.search.index import split_sections
from app.search.query import parse
from app.search.service import service
from tests.conftest import CANARY_BLOCK, CANARY_DOC, CANARY_TITLE, git
from tests.history_helpers import commit as commit_files


@pytest.fixture(autouse=True)
def no_throttle(monkeypatch):
    monkeypatch.setattr(search, "CHECK_SECONDS", 0.0)


def find(app, q: str, viewer: Viewer = PUBLIC, limit: int = 10):
    with app.app_context():
        return service().search(q, viewer, limit=limit)


def urls(answer) -> list[str]:
    return [r.url.split("#")[0] for r in answer.results]


def commit(content_dir, files: dict[str, str | None], message: str = "Edit") -> None:
    commit_files(content_dir, files, message)


# -- sections ------------------------------------------------------------------------------
SECTIONED = """\
Intro text.

## Refund window
One.

```
## Not a heading
```

### Details
Two.

## Refund window
Repeated heading.

## Café & **bold** `code`
Three.
"""


def test_section_ids_match_the_rendered_page():
    _intro, sections, _headings = split_sections(SECTIONED)
    rendered = [tid for level, tid, _t in render(SECTIONED).toc if level == 2]
    assert [s.id for s in sections] == rendered
    assert [s.heading for s in sections][:2] == ["Refund window", "Refund window"]
    assert "Not a heading" in sections[0].text  # fenced code stays text


def test_hit_links_to_the_section_of_the_page(app, client):
    answer = find(app, "claims")
    assert answer.results[0].url == "/policies/refunds#sec-late-claims"
    page = client.get("/policies/refunds").get_data(as_text=True)
    assert 'id="sec-late-claims"' in page


# -- query features ------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "expected"), [
    ("refunds", "/policies/refunds"),        # stemming: refunds ~ refund
    ("claim", "/policies/refunds"),          # claim ~ Claims
    ("delivered", "/policies/refunds"),      # delivered ~ delivery
    ("tracking", "/faq/track-order"),        # tracking ~ track (title)
])
def test_stemming(app, q, expected):
    assert expected in urls(find(app, q))


COMPOUNDS = {  # page -> (title, text)
    "undo-release": ("Undoing a release", "A rollback restores the last release."),
    "undo-order": ("Changing an order", "Staff can roll back an order change."),
    "account": ("Your account", "Your login opens the account."),
    "advisor": ("Advisors", "Ask the cybersecurity advisor."),
    "security": ("Security", "Keep passwords safe."),
    "cyber-week": ("Cyber week", "Prices drop in cyber week."),
}


def compound_pages(app, content_dir, q: str) -> list[str]:
    commit(content_dir, {f"faq/{name}.md": f"---\ntitle: {title}\naudience: public\n---\n"
                         f"{text}\n" for name, (title, text) in COMPOUNDS.items()})
    found = [u.removeprefix("/faq/") for u in urls(find(app, q))]
    return [name for name in found if name in COMPOUNDS]


@pytest.mark.parametrize(("q", "expected"), [
    ("roll back", {"undo-release", "undo-order"}),  # two words, held as one too
    ("rollback", {"undo-release", "undo-order"}),  # one word, held as two too
    ("log in", {"account"}),  # the second word a stop word, which no index holds
    ("please log in ", {"account"}),
])
def test_compounds_match_written_as_one_word_or_two(app, content_dir, q, expected):
    assert set(compound_pages(app, content_dir, q)) == expected


def test_a_compound_also_finds_its_last_word_below_itself(app, content_dir):
    """"cybersecurity" is a kind of security (the page titled "Security"), not of cyber
    week; the page saying "cybersecurity" comes first."""
    assert compound_pages(app, content_dir, "cybersecurity") == ["advisor", "security"]


def test_every_word_ranks_first_and_any_word_still_finds(app):
    both = find(app, "refund window")
    assert not both.fallback and urls(both)[0] == "/policies/refunds"
    narrowed = find(app, "shipping email")
    assert urls(narrowed) == ["/faq/track-order"] and not narrowed.fallback
    fallback = find(app, "refund after 45 days")
    assert fallback.fallback and urls(fallback)[0] == "/policies/refunds"
    assert find(app, "refund nosuchwordanywhere").fallback
    # A question names more than any page holds: the page with most of its words leads.
    assert urls(find(app, "can I track where my order is"))[0] == "/faq/track-order"


def test_a_page_holding_every_word_below_the_best_one_is_not_a_fallback(app, content_dir):
    """"Some page holds every word" is true when the page holding them all is not the best:
    here the best page has only the telling word, in its title."""
    pages = {f"faq/common{n}.md": f"---\naudience: public\ntitle: C{n}\n---\nA quokka.\n"
             for n in range(6)}
    pages["faq/zebra.md"] = "---\naudience: public\ntitle: Zebra\n---\nZebra zebra zebra.\n"
    pages["faq/both.md"] = ("---\naudience: public\ntitle: Animals\n---\n"
                            + "Many words about a park. " * 30 + "A zebra met a quokka.\n")
    commit(content_dir, pages)
    answer = find(app, "zebra quokka")
    assert urls(answer)[0] == "/faq/zebra" and "/faq/both" in urls(answer)
    assert not answer.fallback


@pytest.mark.parametrize(("q", "hits"), [
    ('"30 days of delivery"', 1),
    ('"ask for a refund"', 1),
    ('"delivery of 30 days"', 0),
    ('"shipping email" tracking', 1),
])
def test_phrases(app, q, hits):
    assert find(app, q).count == hits


@pytest.mark.parametrize(("q", "section"), [
    ('"returns team"', "#sec-late-claims"),          # a phrase lands where it is
    ('"30 days of delivery"', "#sec-refund-window"),
    ('refund "returns team"', "#sec-late-claims"),   # a word and a required phrase
])
def test_a_phrase_lands_on_the_section_holding_it(app, q, section):
    answer = find(app, q)
    assert answer.count == 1 and answer.results[0].url == "/policies/refunds" + section


def test_words_no_page_holds_in_any_field_match_nothing(app):
    # "team" is only in a body and "refunds" only in a title: a phrase needs one field.
    assert find(app, '"refunds team"').count == 0
    assert find(app, "zqxvw").count == 0 and not find(app, "zqxvw").results


@pytest.mark.parametrize(("q", "expected"), [
    ("tag:orders", {"/faq/track-order", "/policies/refunds"}),
    ("kind:faq", {"/faq/track-order"}),
    ("tag:orders kind:policy", {"/policies/refunds"}),
    ("tag:money refund", {"/policies/refunds"}),
    ("tag:money kind:faq", set()),
    ("kind:faq refund", set()),
])
def test_filters(app, q, expected):
    assert set(urls(find(app, q))) == expected


def test_parse_keeps_unknown_fields_as_words():
    parsed = parse('owner:bob "money back" kind:policies tag:Orders')
    assert parsed.kinds == ["policy"] and parsed.tags == ["orders"]
    assert parsed.phrases == [["money", "back"]]
    assert parsed.words == ["owner", "bob"]


@pytest.mark.parametrize(("typo", "word", "expected"), [
    ("refnud", "refund", "/policies/refunds"),
    ("shiping", "shipping", "/faq/track-order"),
    ("deliverry", "delivery", "/policies/refunds"),
])
def test_typos_still_find_and_suggest(app, client, typo, word, expected):
    answer = find(app, typo)
    assert expected in urls(answer)
    assert answer.suggestion == word
    page = client.get(f"/search?q={typo}").get_data(as_text=True)
    assert "Did you mean" in page and f">{word}</a>" in page


def test_short_words_are_not_fuzzed_and_fuzzy_ranks_below_exact(app, content_dir):
    assert find(app, "xq").count == 0
    assert find(app, "emal").suggestion == "email"
    commit(content_dir, {"faq/refnd.md": "---\naudience: public\ntitle: Other\n---\n"
                         "The refnd code.\n"})
    # "refnd" is a word of the index now: it is not corrected, and its page leads.
    assert urls(find(app, "refnd"))[0] == "/faq/refnd"
    assert find(app, "refnd").suggestion is None
    # A swap of neighbours is one typo; an exact match outranks a corrected one.
    both = find(app, "refnud refnd")
    assert urls(both)[0] == "/faq/refnd" and "/policies/refunds" in urls(both)


def test_swapped_letters_count_as_one_typo(app):
    assert find(app, "cliams").suggestion == "claims"
    assert urls(find(app, "cliams")) == ["/policies/refunds"]


# -- as you type ----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "partial"), [
    ("refu", True), ("refund wind", True), ("refu ", False), ('"refund wind"', False),
    ('"refund wind', False), ("refund tag:orders", False), ("kind:faq", False), ("", False),
])
def test_a_word_at_the_very_end_may_be_unfinished(text, partial):
    assert parse(text).partial is partial


@pytest.mark.parametrize(("typed", "expected"), [
    ("ref", "/policies/refunds"), ("refu", "/policies/refunds"),
    ("refund wind", "/policies/refunds"), ("trac", "/faq/track-order"),
])
def test_the_word_being_typed_is_completed(app, client, typed, expected):
    assert urls(find(app, typed))[:1] == [expected]
    body = client.get(f"/api/search?q={typed}").get_json()
    assert body["results"][0]["url"].startswith(expected)


def test_completions_stop_at_a_space_and_need_three_letters(app, client):
    assert find(app, "refu ").count == 0  # a finished word is not completed
    assert client.get("/api/search?q=refu%20").get_json()["count"] == 0
    assert find(app, "re").count == 0  # two letters say too little


def test_a_completion_ranks_below_the_word_itself(app, content_dir):
    commit(content_dir, {"faq/wind.md": "---\naudience: public\ntitle: Wind\n---\n"
                         "Wind and weather.\n", "faq/windows.md": "---\naudience: public\n"
                         "title: Windows\n---\nWindows windows windows.\n"})
    assert urls(find(app, "wind"))[0] == "/faq/wind"
    assert "/faq/windows" in urls(find(app, "wind"))


@pytest.mark.parametrize("typed", ["esc", "esca", "escal", "escala", "escalat", "escalati",
                                   "escalatio", "escalation"])
def test_every_prefix_finds_the_word(app, content_dir, typed):
    """"escalat" matches neither the stem "escal" nor ... unless completions come from the
    words as written."""
    commit(content_dir, {"faq/esc.md": "---\naudience: public\ntitle: Hand over\n---\n"
                         "Ask for an escalation.\n"})
    assert "/faq/esc" in urls(find(app, typed))


def test_the_commonest_completion_leads(app, content_dir):
    """"refu" means "refund" far more often than "refuse": a rare word's weight in BM25 must
    not put the one page that says "refused" first."""
    commit(content_dir, {"faq/rare.md": "---\naudience: public\n---\nWe refused it.\n"})
    assert urls(find(app, "refu"))[0] == "/policies/refunds"


@pytest.mark.parametrize("typed", ["quorbl", "quorbler", "quorblary ", "quorblery"])
def test_a_word_being_typed_or_misspelt_weighs_as_the_word_meant(app, content_dir, typed):
    """The coverage bonus of a word is scaled by its rarity: a word still being typed, or
    misspelt, counts as the word meant ("quorblery", whose index term "quorbleri" is no
    word), not as a word no page holds, so results do not jump when the word is done."""
    from app.search.query import Lexicon, plan

    commit(content_dir, {f"faq/q{n}.md": f"---\naudience: public\ntitle: Q{n}\n---\n"
                         "The quorblery rules.\n" for n in range(3)})
    with app.app_context():
        svc = service()
        svc.sync()
        lexicon = Lexicon(svc.searcher("public"), ("test",))

        def rarity(text: str) -> float:
            return plan(lexicon, parse(text), svc.synonyms).groups[0].rarity

        meant = rarity("quorblery ")
        assert meant < 0.9  # three pages of the index hold it
        assert rarity(typed) == pytest.approx(meant)


@pytest.mark.parametrize("viewer", [PUBLIC, STAFF])
def test_completions_come_from_the_viewers_own_index(app, viewer):
    prefix = CANARY_BLOCK[:6]
    found = find(app, prefix, viewer)
    assert (found.count > 0) is viewer.sees_internal
    if not viewer.sees_internal:
        assert found.suggestion is None


# -- synonyms -------------------------------------------------------------------------------
def test_synonyms_apply_and_reload(app, content_dir):
    assert find(app, "reimbursement").count == 0
    (content_dir / "synonyms.yml").write_text("- [refund, money back, reimbursement]\n")
    assert find(app, "reimbursement").count == 0  # only what is committed applies
    commit(content_dir, {"synonyms.yml": "- [refund, money back, reimbursement]\n"})
    assert urls(find(app, "reimbursement")) == ["/policies/refunds"]
    assert urls(find(app, "money back")) == ["/policies/refunds"]
    commit(content_dir, {"synonyms.yml": "- [parcel, order, consignment]\n# changed\n"})
    assert find(app, "reimbursement").count == 0
    assert "/faq/track-order" in urls(find(app, "consignment"))


@pytest.mark.parametrize("text", ["- [unclosed\n", "just: a mapping\n", "- 42\n", "\x00"])
def test_broken_synonyms_file_is_ignored_with_a_warning(app, client, content_dir, caplog, text):
    commit(content_dir, {"synonyms.yml": text})
    with caplog.at_level(logging.WARNING):
        res = client.get("/search?q=refund")
    assert res.status_code == 200 and "Refunds" in res.get_data(as_text=True)
    assert "synonyms" in caplog.text


# -- grouping and snippets -----------------------------------------------------------------
def test_results_grouped_by_document_best_section_first(app):
    answer = find(app, "30 days")
    assert urls(answer) == ["/policies/refunds"]
    result = answer.results[0]
    assert len(result.sections) == 2
    assert {s.url for s in result.sections} == {"/policies/refunds#sec-refund-window",
                                                "/policies/refunds#sec-late-claims"}
    assert result.sections[0].url == result.url
    assert "<mark>days</mark>" in str(result.snippet)
    assert "days" in result.highlight.split()
    assert "?hl=" in result.link and result.link.endswith("#" + result.url.split("#")[1])


def test_snippets_escape_document_text(app, content_dir):
    commit(content_dir, {"faq/html.md": """\
        ---
        title: Angle brackets
        audience: public
        ---
        Type <script>alert(1)</script> brackets & ampersands here.
        """})
    snippet = str(find(app, "ampersands").results[0].snippet)
    assert "<script>" not in snippet and "&amp;" in snippet
    assert "<mark>ampersands</mark>" in snippet


@pytest.mark.parametrize("text", [
    "Type <script>alert(1)</script> & ampersands here.",
    "Control \x02<b>ampersands</b>\x03 characters & <i>tags</i>.",  # the marks' own
    "\x03ampersands\x02 <img src=x onerror=alert(1)>",
    "\x02ampersands\x03",  # a mark's character alone between words
    "Plain ampersands, nothing to escape",
])
def test_snippet_marks_words_and_escapes_everything_else(text):
    from markupsafe import escape

    from app.search.results import snippet

    marked, words = snippet(text, frozenset({"ampersand"}))
    assert words == {"ampersands"}
    assert str(marked).count("<mark>") == 1 and "<mark>ampersands</mark>" in str(marked)
    # Remove our tags: what is left is the text, escaped, and nothing else.
    assert str(marked).replace("<mark>", "").replace("</mark>", "") == str(escape(text))


# -- audience safety -----------------------------------------------------------------------
CANARY_QUERIES = [CANARY_DOC, CANARY_BLOCK, "canarytitle", "escalation secrets", "tier 2",
                  "goodwill credit", "log a credit", "tag:escalation", "tag:for-agents",
                  "canaryblockwrd", "canaryinternaldok", '"goodwill credit"', "handbook"]


@pytest.mark.parametrize("q", CANARY_QUERIES)
def test_public_search_never_reveals_internal_text(app, client, auth, q):
    for path in (f"/search?q={q}", f"/api/search?q={q}"):
        body = client.get(path).get_data(as_text=True)
        for canary in (CANARY_DOC, CANARY_BLOCK, CANARY_TITLE, "log a credit", "goodwill",
                       "Handbook page"):
            if set(canary.lower().split()) & set(q.lower().strip('"').split()):
                continue  # the page echoes the query itself
            assert canary.lower() not in body.lower(), (path, canary)
    api = client.get(f"/api/search?q={q}").get_json()
    assert api["count"] == 0 and api["results"] == [] and api["suggestion"] is None
    auth.login()  # staff previewing as a customer get exactly the public answer
    assert client.get(f"/api/search?q={q}&as=customer").get_json() == api


@pytest.mark.parametrize(("q", "expected"), [
    (CANARY_DOC, "/policies/escalation"), (CANARY_BLOCK, "/policies/refunds"),
    ("tag:for-agents", "/faq/agents/log-credit"), ("handbook", "/policies/no-front-matter"),
])
def test_staff_find_internal_text(client, auth, q, expected):
    auth.login()
    data = client.get(f"/api/search?q={q}").get_json()
    assert expected in [r["url"].split("#")[0] for r in data["results"]]


def test_suggestions_come_from_the_viewers_index(app):
    assert find(app, "canaryinternaldok").suggestion is None
    assert find(app, "canaryinternaldok", STAFF).suggestion == CANARY_DOC
    assert find(app, "canaryblockwrd").suggestion is None


def test_public_index_holds_no_internal_word(app):
    import tantivy

    from app.search import index as search_index

    with app.app_context():
        root = service().root
    searcher = search_index.open_index(root / "public").searcher()
    for field in ("words",):
        assert searcher.terms_with_prefix(field, "canary") == []
        assert searcher.terms_with_prefix(field, "goodwill") == []
    everything = searcher.search(tantivy.Query.all_query(), 1000).hits
    stored = " ".join(str(searcher.doc(a).to_dict()) for _s, a in everything).lower()
    assert everything and "canary" not in stored and "goodwill" not in stored


# -- incremental updates -------------------------------------------------------------------
def test_commits_update_the_index(app, content_dir):
    assert find(app, "quokka").count == 0
    commit(content_dir, {"faq/quokka.md": "---\naudience: public\ntitle: Quokka\n---\nquokka\n"})
    assert urls(find(app, "quokka")) == ["/faq/quokka"]
    # a public document turning internal leaves the public index, stays in the staff one
    refunds = (content_dir / "policies/refunds.md").read_text()
    commit(content_dir, {"policies/refunds.md": refunds.replace("audience: public",
                                                                "audience: internal")})
    assert find(app, "refund window").count == 0
    assert find(app, "refund window", STAFF).count == 1
    git(content_dir, "mv", "faq/quokka.md", "faq/marsupial.md")
    git(content_dir, "commit", "-q", "-m", "Rename")
    assert urls(find(app, "quokka")) == ["/faq/marsupial"]
    commit(content_dir, {"faq/marsupial.md": None})
    assert find(app, "quokka").count == 0


def test_uncommitted_edits_are_not_indexed(app, content_dir):
    (content_dir / "faq/track-order.md").write_text(
        "---\naudience: public\ntitle: Track\n---\nwombat tracking\n")
    assert find(app, "wombat").count == 0  # HEAD did not move: the index is unchanged
    (content_dir / "faq/other.md").write_text("---\naudience: public\n---\nother\n")
    git(content_dir, "add", "faq/other.md")
    git(content_dir, "commit", "-q", "-m", "Other")
    assert find(app, "other").count == 1
    assert find(app, "wombat").count == 0  # only files the commit changed are indexed


def test_second_app_instance_sees_a_commit(app, tmp_path, content_dir):
    find(app, "refund")
    other = create_app({**{k: app.config[k] for k in ("KB_DATA_DIR", "KB_CONTENT_DIR")},
                        "TESTING": True, "SECRET_KEY": "x" * 32})
    commit(content_dir, {"faq/numbat.md": "---\naudience: public\n---\nnumbat\n"})
    assert urls(find(other, "numbat")) == ["/faq/numbat"]  # the other instance updated it
    assert urls(find(app, "numbat")) == ["/faq/numbat"]  # and this one reads the update


# -- recovery and CLI ----------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "delete_state", "delete_dir"])
def test_corrupt_or_missing_index_is_rebuilt_at_start(app, caplog, damage):
    with app.app_context():
        root = service().root
    if damage == "truncate":
        for path in (root / "public").iterdir():
            path.write_bytes(b"garbage")
    elif damage == "delete_state":
        (root / "STATE").unlink()
    else:
        import shutil

        shutil.rmtree(root / "staff")
    with caplog.at_level(logging.WARNING):
        fresh = create_app({k: app.config[k] for k in
                            ("KB_DATA_DIR", "KB_CONTENT_DIR", "TESTING", "SECRET_KEY")})
    assert "rebuilding" in caplog.text
    assert urls(find(fresh, "claims")) == ["/policies/refunds"]


def test_kb_reindex(runner, app):
    result = runner.invoke(args=["kb", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexed 5 documents" in result.output
    assert urls(find(app, "claims")) == ["/policies/refunds"]


# -- HTTP ----------------------------------------------------------------------------------
@pytest.mark.parametrize("params", ["limit=0", "limit=51", "limit=abc", "limit=-1",
                                    "q=" + "refund " * 1000, "q=", "q=%00%ff", 'q="', "q=tag:",
                                    "q=kind:nothing"])
def test_api_never_fails_on_bad_input(client, params):
    res = client.get(f"/api/search?{params}")
    assert res.status_code == 200
    assert res.get_json()["count"] >= 0
    assert client.get(f"/search?{params}").status_code == 200


def test_api_limit(client, content_dir):
    commit(content_dir, {f"faq/q{i}.md": f"---\naudience: public\n---\nshared word {i}\n"
                         for i in range(5)})
    assert len(client.get("/api/search?q=shared&limit=2").get_json()["results"]) == 2
    assert len(client.get("/api/search?q=shared").get_json()["results"]) == 5


@pytest.mark.parametrize("sections, shown", [("1", 1), ("2", 2), ("3", 2), ("", 2), ("0", 2),
                                             ("9", 2), ("x", 2)])
def test_api_sections(client, sections, shown):
    """``sections=1`` (the list shown while typing) keeps each result's best section only;
    the same result, landing on the same place.  Other values give every section."""
    full = client.get("/api/search?q=30%20days").get_json()["results"][0]
    answer = client.get(f"/api/search?q=30%20days&sections={sections}").get_json()["results"][0]
    assert len(answer["sections"]) == shown
    assert answer["sections"] == full["sections"][:shown] or shown == 1
    assert (answer["url"], answer["title"], answer["snippet"]) == \
        (full["url"], full["title"], full["snippet"])
    assert answer["sections"][0]["heading"] == full["sections"][0]["heading"]


def test_search_box_on_every_page(client):
    for path in ("/", "/policies/refunds", "/search", "/login"):
        html = client.get(path).get_data(as_text=True)
        assert 'id="q"' in html and 'name="q"' in html and 'role="combobox"' in html
        assert "<script>" not in html and " style=" not in html


# -- analytics -----------------------------------------------------------------------------
def rows(app):
    from app.db import connect

    conn = connect(app.config["DATABASE"])
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM search_queries ORDER BY id")]
    finally:
        conn.close()


def test_search_page_logs_one_row_and_api_keystrokes_none(app, client):
    for prefix in ("r", "re", "ref", "refu", "refun", "refund"):
        client.get(f"/api/search?q={prefix}")
    assert rows(app) == []
    client.get("/search?q=  Refund   WINDOW ")
    (row,) = rows(app)
    assert (row["query"], row["audience"], row["result_count"]) == ("refund window", "public", 1)
    assert row["clicked_url"] is None
    assert set(row) == {"id", "query", "audience", "result_count", "clicked_url", "created_at"}


def test_clicks_are_recorded(app, client, auth):
    client.get("/search?q=claims")
    log_id = rows(app)[0]["id"]
    res = client.post("/api/search/click",
                      json={"log_id": log_id, "url": "/policies/refunds#sec-late-claims"})
    assert res.status_code == 200
    assert rows(app)[0]["clicked_url"] == "/policies/refunds#sec-late-claims"
    auth.login()
    res = client.post("/api/search/click", json={"q": CANARY_DOC, "url": "/policies/escalation"})
    assert res.status_code == 200
    assert rows(app)[-1]["audience"] == "staff" and rows(app)[-1]["result_count"] == 2


@pytest.mark.parametrize("payload", [
    {"q": "claims", "url": "https://evil.example/"},
    {"q": "claims", "url": "/faq/track-order"},          # not a result of this query
    {"q": CANARY_DOC, "url": "/policies/escalation"},   # not visible to the public
    {"log_id": "999", "url": "/policies/refunds"},
    {},
])
def test_bad_clicks_are_refused(app, client, payload):
    assert client.post("/api/search/click", json=payload).status_code in (400, 404)
    assert all(r["clicked_url"] is None for r in rows(app))


def test_click_needs_csrf_token(tmp_path, content_dir):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32,
                      "KB_DATA_DIR": str(tmp_path / "csrf"), "KB_CONTENT_DIR": str(content_dir)})
    client = app.test_client()
    res = client.post("/api/search/click", json={"q": "claims", "url": "/policies/refunds"})
    assert res.status_code == 400
    token = client.get("/api/csrf-token").get_json()["token"]  # what search.js fetches
    res = client.post("/api/search/click", json={"q": "claims", "url": "/policies/refunds"},
                      headers={"X-CSRFToken": token})
    assert res.status_code == 200
    assert os.path.exists(app.config["DATABASE"])


def test_kb_init_builds_the_index(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_CONTENT_DIR", raising=False)
    fresh = create_app({"TESTING": True, "KB_DATA_DIR": str(tmp_path / "data")})
    result = fresh.test_cli_runner().invoke(args=["kb", "init", "--no-admin"])
    assert result.exit_code == 0, result.output
    assert "Built the search index" in result.output
    assert find(fresh, "refund").count > 0


def test_index_removed_while_running_is_rebuilt(app, client):
    import shutil

    with app.app_context():
        root = service().root
    assert client.get("/api/search?q=claims").get_json()["count"] == 1
    shutil.rmtree(root)
    res = client.get("/api/search?q=claims")
    assert res.status_code == 200 and res.get_json()["count"] == 1


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "notice"), [
    ("refund " * 40, False),                          # 280 characters: cut at 200
    ("xqzt " * 40, False),                            # 200 characters of unknown words
    ("the of and to", True),                          # only stop words
    ("?!,.;:-- ()", True),                            # only punctuation
    ('"refund window', False),                        # an unbalanced quote
    ('refund "', False),
    ("refnud deliverry cliams shiping emial", False),  # every word a typo
    ("tag:", False), ("kind:", False), ("\x00\u202e", True),
])
def test_bad_input_gets_a_clear_answer(app, client, q, notice):
    for path in ("/api/search", "/search"):
        res = client.get(path, query_string={"q": q})
        assert res.status_code == 200
    body = client.get("/api/search", query_string={"q": q}).get_json()
    assert (body["notice"] is not None) is notice, body
    if notice:
        assert body["count"] == 0
        page = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert 'id="search-notice"' in page


def test_every_word_a_typo_is_corrected(app):
    answer = find(app, "refnud deliverry cliams shiping emial")
    assert answer.suggestion and answer.suggestion.startswith("refund delivery claims")
    assert answer.count >= 1


def test_a_search_during_a_rebuild_answers_from_the_previous_index(app, content_dir):
    import threading

    from app.search import index as search_index

    with app.app_context():
        svc = service()
        assert urls(svc.search("claims", PUBLIC)) == ["/policies/refunds"]
        done = threading.Event()

        def rebuild():
            with app.app_context(), search_index.locked(svc.root):
                svc.rebuild_locked(progress=lambda _n: done.wait(5))

        builder = threading.Thread(target=rebuild)
        builder.start()
        try:
            # The rebuild holds the lock and is half way: searches keep answering.
            for q in ("claims", "refund window", "claim"):
                assert urls(svc.search(q, PUBLIC))[0] == "/policies/refunds"
        finally:
            done.set()
            builder.join(30)
        assert urls(svc.search("claims ", PUBLIC)) == ["/policies/refunds"]


def test_a_crashed_writer_leaves_a_searchable_index(app, content_dir):
    from app.search import build as search_build
    from app.search import index as search_index

    def crash(*_args):
        raise OSError("disk full")

    with app.app_context():
        svc = service()
        assert urls(svc.search("claims", PUBLIC)) == ["/policies/refunds"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(search_build, "add", crash)
            patch.setattr(search_index, "add", crash)
            commit(content_dir, {"faq/quokka.md": "---\naudience: public\n---\nquokka\n"})
            with pytest.raises(OSError):
                svc.rebuild_locked()
            # The update crashed too (logged): the previous index still answers.
            assert urls(svc.search("claims", PUBLIC)) == ["/policies/refunds"]
            assert svc.search("quokka", PUBLIC).count == 0
        svc._checked = 0.0
        assert urls(svc.search("quokka", PUBLIC)) == ["/faq/quokka"]


def test_a_synonym_added_from_the_analytics_page_fixes_the_miss_at_once(app, client, auth):
    """The zero-result list offers "synonym of …": the owner's next search finds the page."""
    assert find(app, "reimbursement").count == 0
    client.get("/search?q=reimbursement")  # the miss the analytics page lists
    auth.login("editor")
    assert "reimbursement" in client.get("/manage/search").get_data(as_text=True)
    res = client.post("/manage/synonyms", data={"term": "reimbursement", "synonym_of": "refund"})
    assert res.status_code == 303
    assert urls(find(app, "reimbursement"))[0] == "/policies/refunds"
    assert client.get("/api/search?q=reimbursement").get_json()["count"] >= 1


def test_an_index_of_another_format_is_rebuilt_at_start(app, caplog):
    from app.search import index as search_index

    with app.app_context():
        root = service().root
    state = (root / search_index.STATE_FILE).read_text().split()
    (root / search_index.STATE_FILE).write_text(" ".join([*state[:3], "whoosh-1"]) + "\n")
    with caplog.at_level(logging.WARNING):
        fresh = create_app({k: app.config[k] for k in
                            ("KB_DATA_DIR", "KB_CONTENT_DIR", "TESTING", "SECRET_KEY")})
    assert "rebuilding" in caplog.text
    assert urls(find(fresh, "claims")) == ["/policies/refunds"]
    assert (root / search_index.STATE_FILE).read_text().split()[3] == search_index.FORMAT


def test_the_work_of_one_query_is_bounded(app):
    """Typo expansion and the number of words planned are capped, whatever is typed."""
    from app.search import query as search_query
    from app.search.query import Lexicon, plan

    typos = " ".join(["refnud cliams shiping deliverry"] * 6)  # 24 words, every one a typo
    with app.app_context():
        svc = service()
        steps = plan(Lexicon(svc.searcher("staff"), ("test",)), parse(typos), svc.synonyms)
        assert len(steps.groups) <= search_query.MAX_WORDS
        corrected = [g for g in steps.groups if len(g.options) > 1]
        assert 0 < len(corrected) <= search_query.TYPO_WORDS
        assert all(len(g.options) <= 1 + search_query.TYPO_TERMS for g in corrected)
        assert all(len(g.options) <= search_query.MAX_OPTIONS for g in steps.groups)
    assert find(app, typos).count >= 0  # and it answers


def test_the_index_holds_the_committed_text_of_the_head_it_records(app, content_dir):
    """Issue #12 item 1: a save moves the branch before it writes the work tree; a catch-up
    in that window must index the text committed at the new head, not the work tree's."""
    import subprocess

    def plumb(*args, stdin=None, env=None):
        return subprocess.run(["git", "-C", str(content_dir), *args], input=stdin, env=env,
                              check=True, capture_output=True, text=True).stdout.strip()

    assert find(app, "wombat").count == 0
    text = "---\ntitle: Track\naudience: public\n---\nThe wombat tracking page.\n"
    blob = plumb("hash-object", "-w", "--stdin", stdin=text)
    env = {**os.environ, "GIT_INDEX_FILE": str(content_dir / ".git" / "test-index")}
    plumb("read-tree", "HEAD", env=env)
    plumb("update-index", "--cacheinfo", f"100644,{blob},faq/track-order.md", env=env)
    tree = plumb("write-tree", env=env)
    new = plumb("commit-tree", tree, "-p", "HEAD", "-m", "Save", env=env)
    plumb("update-ref", "refs/heads/main", new)  # the work tree still has the old text
    assert urls(find(app, "wombat")) == ["/faq/track-order"]


@pytest.mark.parametrize(("question", "wanted"), [
    ("how quickly do you answer emails", "/faq/reply-times"),
    ("how much is the fitting service", "/faq/fitting-service"),
])
def test_a_question_opening_asks_for_a_time_or_a_price(app, content_dir, question, wanted):
    """"How quickly ..." wants the page that gives a time, "how much ..." the one with a
    price, among the pages on the subject, though the opening words are not searched."""
    front = "---\ntitle: {}\naudience: public\n---\n"
    commit(content_dir, {
        "faq/email-change.md": front.format("Changing the email on your account")
        + "We answer to the email you give us. Change your email in your account settings.\n",
        "faq/reply-times.md": front.format("Replies")
        + "We answer every email within 24 hours.\n",
        "faq/fitting-about.md": front.format("Our fitting service")
        + "The fitting service puts up shelves and curtains for you.\n",
        "faq/fitting-service.md": front.format("Booking fitting")
        + "A fitting visit costs $40, free on orders over $500.\n",
    })
    assert urls(find(app, question))[0] == wanted


@pytest.mark.parametrize("question",
                         ["can I bring it back", "bring it back to the shop", "bring back"])
def test_a_synonym_of_several_words_matches_with_small_words_between(app, content_dir, question):
    """"bring it back" is the synonym entry "bring back": the index drops "it", so the
    entries hold no such word, and the query's words between are passed over too."""
    commit(content_dir, {
        "synonyms.yml": "- [return, bring back]\n",
        "faq/returning.md": "---\ntitle: Sending an item\naudience: public\n---\n"
        "How to return an item to us.\n",
    })
    assert urls(find(app, question))[:1] == ["/faq/returning"]


def test_a_time_word_of_the_question_does_not_outweigh_its_subject(app, content_dir):
    """"after" and "before" say when, not what: "my toaster broke after a year" asks about
    the toaster's cover, not about the page titled "... after 30 days"."""
    front = "---\ntitle: {}\naudience: public\n---\n"
    commit(content_dir, {
        "faq/after-thirty-days.md": front.format("Refunds after 30 days")
        + "After 30 days, an item that broke is repaired rather than refunded.\n",
        "faq/appliance-cover.md": front.format("Warranty")
        + "A toaster is covered for two years.\n",
    })
    assert urls(find(app, "my toaster broke after a year"))[0] == "/faq/appliance-cover"
