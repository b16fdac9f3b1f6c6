"""Search analytics: logging and aggregation by period and audience."""

import datetime as dt

import pytest

from app.db import connect
from app.lifecycle.analytics import no_click_queries, top_queries, totals, zero_result_queries
from app.lifecycle.search_log import record, record_click

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(app):
    conn = connect(app.config["DATABASE"])
    yield conn
    conn.close()


def _log(db, query, audience, results, days_ago=0, click=None):
    qid = record(db, query, audience, results, at=NOW - dt.timedelta(days=days_ago))
    if click:
        assert record_click(db, qid, click, audience)
    return qid


def test_aggregation(db):
    _log(db, "refund", "public", 4, click="/policies/refunds")
    _log(db, "refund", "public", 4)
    _log(db, "refund", "staff", 4, days_ago=10)
    _log(db, "bnpl", "public", 0)
    _log(db, "bnpl", "public", 0, days_ago=40)
    _log(db, "gift wrap", "staff", 0, days_ago=3)
    top = top_queries(db, days=30, now=NOW)
    assert [(q.query, q.searches, q.clicks, q.click_rate) for q in top] == [
        ("refund", 3, 1, 33), ("bnpl", 1, 0, 0), ("gift wrap", 1, 0, 0)]
    assert [q.query for q in top_queries(db, days=7, audience="staff", now=NOW)] == ["gift wrap"]
    assert [(q.query, q.searches) for q in zero_result_queries(db, days=90, now=NOW)] == [
        ("bnpl", 2), ("gift wrap", 1)]
    assert [(q.query, q.searches) for q in no_click_queries(db, days=30, now=NOW)] == [
        ("refund", 2)]
    assert totals(db, days=30, now=NOW) == {"public": 3, "staff": 2}


def test_no_personal_data_columns(db):
    columns = {r[1] for r in db.execute("PRAGMA table_info(search_queries)")}
    assert columns == {"id", "created_at", "query", "audience", "result_count", "clicked_url"}


def test_analytics_page(app, client, auth, db):
    record(db, "bnpl", "public", 0)  # logged now, whatever today's date is
    record(db, "zanzibar", "staff", 0)
    assert client.get("/manage/search").status_code == 302  # anonymous: sign in first
    auth.login("agent")
    assert client.get("/manage/search").status_code == 403
    auth.logout()
    auth.login("editor")
    page = client.get("/manage/search?days=7&audience=public").get_data(as_text=True)
    assert "bnpl" in page and "zanzibar" not in page
    assert "zanzibar" in client.get("/manage/search?audience=staff").get_data(as_text=True)
    assert client.get("/manage/search?days=5&audience=x").status_code == 200


def test_zero_result_query_becomes_a_synonym_commit(app, client, auth, db, content_dir):
    from tests.conftest import git

    (content_dir / "synonyms.yml").write_text("# groups\n- [refund, money back]\n")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "synonyms")
    record(db, "repayment", "public", 0)
    auth.login("editor")
    page = client.get("/manage/search").get_data(as_text=True)
    assert 'name="synonym_of"' in page and "/new?title=repayment" in page
    res = client.post("/manage/synonyms", data={"term": "repayment", "synonym_of": "refund"})
    assert res.status_code == 303
    assert (content_dir / "synonyms.yml").read_text() == (
        "# groups\n- [refund, money back, repayment]\n")
    assert git(content_dir, "log", "-1", "--format=%an %s").strip() == (
        "editor Search: treat “repayment” as “refund”")
    bad = client.post("/manage/synonyms", data={"term": "x]\n- [y", "synonym_of": "refund"})
    assert bad.status_code == 303
    assert "Not added" in client.get("/manage/search").get_data(as_text=True)


def test_a_synonym_added_from_the_misses_fixes_the_search_at_once(app, client, auth, db,
                                                                   content_dir):
    """The owner's fix shows on the very next search, for customers and agents alike."""
    from tests.conftest import git

    (content_dir / "synonyms.yml").write_text("- [refund, money back]\n")
    git(content_dir, "add", "-A")
    git(content_dir, "commit", "-q", "-m", "synonyms")

    def urls(query: str) -> list[str]:
        res = client.get("/api/search", query_string={"q": query + " "})
        return [r["url"] for r in res.get_json()["results"]]

    assert not any("refunds" in url for url in urls("reimbursal"))
    auth.login("editor")
    client.post("/manage/synonyms", data={"term": "reimbursal", "synonym_of": "refund"})
    assert any("/policies/refunds" in url for url in urls("reimbursal"))
    auth.logout()
    assert any("/policies/refunds" in url for url in urls("reimbursal"))
