"""Search analytics: logging and aggregation by period and audience."""

import datetime as dt

import pytest

from app.analytics import (
    log_click,
    log_query,
    no_click_queries,
    normalise,
    top_queries,
    totals,
    zero_result_queries,
)
from app.db import connect

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(app):
    conn = connect(app.config["DATABASE"])
    yield conn
    conn.close()


@pytest.mark.parametrize("raw, clean", [("  Refund   POLICY? ", "refund policy"),
                                        ('"money back"', '"money back"'), ("???", ""),
                                        ("x" * 300, "x" * 200)])
def test_normalise(raw, clean):
    assert normalise(raw) == clean


def _log(db, query, audience, results, days_ago=0, click=None):
    qid = log_query(db, query=query, audience=audience, results=results,
                    now=NOW - dt.timedelta(days=days_ago))
    if click:
        assert log_click(db, query_id=qid, url=click)
    return qid


def test_aggregation(db):
    _log(db, "Refund", "public", 4, click="/policies/refunds")
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


def test_bad_input_is_not_logged(db):
    assert log_query(db, query="   ", audience="public", results=1) is None
    assert log_query(db, query="x", audience="admin", results=1) is None
    qid = log_query(db, query="x", audience="public", results=1)
    assert not log_click(db, query_id=qid, url="https://evil.example")
    assert not log_click(db, query_id=qid, url="//evil.example")
    assert log_click(db, query_id=qid, url="/faq/x")
    assert not log_click(db, query_id=qid, url="/faq/y"), "first click wins"


def test_no_personal_data_columns(db):
    columns = {r[1] for r in db.execute("PRAGMA table_info(search_queries)")}
    assert columns == {"id", "created_at", "query", "audience", "results", "clicked"}


def test_analytics_page(app, client, auth, db):
    log_query(db, query="bnpl", audience="public", results=0)  # logged now, whatever the date
    log_query(db, query="zanzibar", audience="staff", results=0)
    assert client.get("/manage/search").status_code == 302  # anonymous: sign in first
    auth.login("agent")
    assert client.get("/manage/search").status_code == 403
    auth.logout()
    auth.login("editor")
    page = client.get("/manage/search?days=7&audience=public").get_data(as_text=True)
    assert "bnpl" in page and "zanzibar" not in page
    assert "zanzibar" in client.get("/manage/search?audience=staff").get_data(as_text=True)
    assert client.get("/manage/search?days=5&audience=x").status_code == 200
