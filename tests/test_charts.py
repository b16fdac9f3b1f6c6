"""Owners' charts: SVG without script or inline style, data tables, CSV, honest emptiness."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from app.clock import today
from app.db import connect, get_db
from app.lifecycle import charts, feedback, search_log, trends
from app.lifecycle.charts import Chart, Series

INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son\w+=|javascript:", re.I)


def sample(**kw) -> Chart:
    args = {"id": "demo", "title": "Demo <b>", "summary": "A & B", "labels": ("w1", "w2", "w3"),
            "series": (Series("Customers", (1.0, None, 4.0)),
                       Series("Agents", (2.0, 3.0, 0.0)))}
    return Chart(**{**args, **kw})


def test_svg_is_accessible_escaped_and_csp_clean():
    for kind in ("bar", "line", "hbar"):
        svg = str(sample(kind=kind).svg())
        assert svg.startswith('<svg class="chart-svg') and 'role="img"' in svg
        assert 'aria-labelledby="demo-title demo-desc"' in svg
        assert "<title id=\"demo-title\">Demo &lt;b&gt;</title>" in svg
        assert "<desc id=\"demo-desc\">A &amp; B</desc>" in svg
        assert not INLINE.search(svg), kind


def test_bars_and_lines_show_the_data_and_leave_gaps():
    bar = str(sample().svg())
    assert bar.count('class="bar s0"') == 2 and bar.count('class="bar s1"') == 3  # None: no bar
    line = str(sample(kind="line").svg())
    assert line.count('class="dot s0"') == 2  # a gap, not an invented zero
    assert line.count('<polyline class="line s0"') == 0  # two single points are not joined
    assert line.count('<polyline class="line s1"') == 1
    assert "w2: Agents 3</title>" in line


def test_scale_tops_are_round():
    assert [charts.nice_top(v) for v in (0, 0.7, 3, 7, 12, 26, 140)] == [1, 1, 5, 10, 20, 50, 200]
    assert ">100%<" in str(sample(unit="%", max_value=100, kind="line").svg())
    # Counts get whole-number gridlines (quarters of the top).
    assert [charts.count_top(v) for v in (0, 1, 5, 9, 13, 70, 101)] == [4, 4, 8, 12, 16, 80, 120]
    ticks = re.findall(r'class="tick y"[^>]*>([^<]+)<', str(sample().svg()))
    assert ticks == ["0", "1", "2", "3", "4"]


def test_not_enough_data_draws_nothing():
    empty = sample(enough=False, reason="Not enough data yet.")
    assert str(empty.svg()) == ""


def test_csv_and_rows_hold_the_same_numbers():
    chart = sample()
    rows = list(csv.reader(io.StringIO(chart.csv())))
    assert rows == [["label", "Customers", "Agents"], ["w1", "1", "2"], ["w2", "", "3"],
                    ["w3", "4", "0"]]
    assert chart.rows[1] == ("w2", ["–", "3"])


def seed(app, weeks: int = 6):
    conn = connect(app.config["DATABASE"])
    now = dt.datetime.combine(today(), dt.time(12), tzinfo=dt.UTC)
    for week in range(weeks):
        at = now - dt.timedelta(weeks=week)
        for _ in range(4):
            search_log.record(conn, "refund", "public", 3, at=at)
        search_log.record(conn, "warranty", "public", 0, at=at)
        search_log.record(conn, "credit", "staff", 0 if week % 2 else 2, at=at)
    for month in range(3):
        at = now - dt.timedelta(days=31 * month)
        for vote in (True, True, False, True):
            feedback.record(conn, kind="policy", slug="refunds", helpful=vote, now=at)
    conn.close()


def test_search_charts_from_the_log(app):
    seed(app)
    with app.app_context():
        db = get_db()
        volume = trends.search_volume(db)
        zero = trends.zero_result_share(db)
        failing = trends.failing_queries(db)
    assert volume.enough and len(volume.labels) == trends.WEEKS
    customers, agents = volume.series
    assert customers.values[-6:] == (5.0,) * 6 and agents.values[-1] == 1.0
    assert customers.values[0] == 0.0  # a week without searches is a real zero
    assert zero.series[0].values[-1] == 20.0  # 1 of 5 customer searches found nothing
    assert zero.series[1].values[-1] is None  # one agent search a week is too few to share
    assert [s.name for s in failing.series] == ["warranty", "credit"]
    assert failing.series[0].values[-6:] == (1.0,) * 6


def test_empty_log_says_so(app):
    with app.app_context():
        chart = trends.search_volume(get_db())
    assert not chart.enough
    assert chart.reason.startswith("Not enough data yet: 0 searches in the last 12 weeks")


def test_dashboard_and_analytics_show_charts_with_tables(app, client, auth):
    seed(app)
    auth.login("editor")
    page = client.get("/manage").get_data(as_text=True)
    for chart_id in ("reviews-due", "acks", "helpful"):
        assert f'id="chart-{chart_id}"' in page
        assert f'href="/manage/charts/{chart_id}.csv"' in page
    assert page.count('<svg class="chart-svg') == 2  # reviews and helpfulness; no acks yet
    assert "Not enough data yet: no document has a material change to confirm." in page
    assert page.count('class="dashboard chart-table"') == 2
    search = client.get("/manage/search").get_data(as_text=True)
    assert search.count('<svg class="chart-svg') == 3
    assert '<th scope="row">' in search and "Show the numbers as a table" in search
    assert not INLINE.search(page) and not INLINE.search(search)


def test_chart_csv_download(app, client, auth):
    seed(app)
    auth.login("editor")
    res = client.get("/manage/charts/search-volume.csv")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert 'filename="search-volume.csv"' in res.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(res.get_data(as_text=True))))
    assert rows[0] == ["label", "Customers", "Agents"] and len(rows) == 1 + trends.WEEKS
    assert rows[-1][1:] == ["5", "1"]
    assert client.get("/manage/charts/nope.csv").status_code == 404
    auth.logout()
    auth.login("agent")
    assert client.get("/manage/charts/search-volume.csv").status_code == 403


def test_reviews_due_counts_months_ahead(app):
    with app.app_context():
        chart = trends.reviews_due(on=dt.date(2026, 6, 15))
    labels, values = chart.labels, chart.series[0].values
    assert labels[0] == "Overdue" and labels[1] == "Jun 2026" and len(labels) == 13
    # Refunds: review_by 2027-01-01; the others fall due 12 months after the fixture commit.
    assert values[labels.index("Jan 2027")] >= 1
    assert sum(values) >= 1
