"""The numbers behind the owners' charts, by week or month, as ``charts.Chart`` values.

Each builder takes the database (and reads documents from the store) and returns a chart
that says honestly when there is not enough data yet.  ``CHARTS`` names them for the CSV
downloads (``/manage/charts/<name>.csv``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter, defaultdict

from app.clock import today
from app.content.store import store
from app.lifecycle import acks, dashboard
from app.lifecycle.charts import Chart, Series
from app.lifecycle.review import add_months

WEEKS = 12
MONTHS = 12
MIN_SEARCHES = 20  # fewer searches than this in the period: no search charts yet
MIN_WEEK_SEARCHES = 5  # a week's zero-result share needs at least this many searches
MIN_MONTH_VOTES = 3  # a month's helpful rate needs at least this many votes
AUDIENCE_NAMES = {"public": "Customers", "staff": "Agents"}


def _weeks(on: dt.date, weeks: int = WEEKS) -> list[dt.date]:
    """Mondays of the last ``weeks`` weeks, oldest first, this week last."""
    monday = on - dt.timedelta(days=on.weekday())
    return [monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def _week_label(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def _search_days(db: sqlite3.Connection, since: dt.date):
    return db.execute(
        "SELECT substr(created_at, 1, 10) AS day, audience, COUNT(*) AS n, "
        "SUM(result_count = 0) AS zero FROM search_queries WHERE created_at >= ? "
        "GROUP BY day, audience", (since.isoformat(),)).fetchall()


def _weekly_searches(db: sqlite3.Connection, on: dt.date):
    weeks = _weeks(on)
    total: dict[str, Counter] = defaultdict(Counter)
    zero: dict[str, Counter] = defaultdict(Counter)
    for row in _search_days(db, weeks[0]):
        day = dt.date.fromisoformat(row["day"])
        week = day - dt.timedelta(days=day.weekday())
        total[row["audience"]][week] += row["n"]
        zero[row["audience"]][week] += row["zero"] or 0
    return weeks, total, zero


def _not_enough_searches(count: int) -> str:
    return (f"Not enough data yet: {count} search{'es' if count != 1 else ''} in the last "
            f"{WEEKS} weeks. The chart appears from {MIN_SEARCHES} searches.")


def search_volume(db: sqlite3.Connection, *, on: dt.date | None = None) -> Chart:
    weeks, total, _ = _weekly_searches(db, on or today())
    series = tuple(Series(name, tuple(float(total[aud][w]) for w in weeks))
                   for aud, name in AUDIENCE_NAMES.items())
    count = sum(sum(c.values()) for c in total.values())
    return Chart("search-volume", "Searches per week",
                 f"Searches per week by customers and agents over the last {WEEKS} weeks; "
                 f"{count} in all.", tuple(_week_label(w) for w in weeks), series,
                 kind="bar", enough=count >= MIN_SEARCHES, reason=_not_enough_searches(count))


def zero_result_share(db: sqlite3.Connection, *, on: dt.date | None = None) -> Chart:
    weeks, total, zero = _weekly_searches(db, on or today())

    def share(aud: str, week: dt.date) -> float | None:
        n = total[aud][week]
        return round(100 * zero[aud][week] / n, 1) if n >= MIN_WEEK_SEARCHES else None

    series = tuple(Series(name, tuple(share(aud, w) for w in weeks))
                   for aud, name in AUDIENCE_NAMES.items())
    count = sum(sum(c.values()) for c in total.values())
    return Chart("zero-results", "Share of searches that found nothing",
                 f"Per week, the percentage of searches with no result, for customers and "
                 f"agents (weeks with fewer than {MIN_WEEK_SEARCHES} searches are left out).",
                 tuple(_week_label(w) for w in weeks), series, kind="line", unit="%",
                 max_value=100, enough=count >= MIN_SEARCHES, reason=_not_enough_searches(count))


def failing_queries(db: sqlite3.Connection, *, on: dt.date | None = None, top: int = 5) -> Chart:
    weeks = _weeks(on or today())
    rows = db.execute(
        "SELECT query, substr(created_at, 1, 10) AS day, COUNT(*) AS n FROM search_queries "
        "WHERE result_count = 0 AND created_at >= ? GROUP BY query, day",
        (weeks[0].isoformat(),)).fetchall()
    per_query: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        day = dt.date.fromisoformat(row["day"])
        per_query[row["query"]][day - dt.timedelta(days=day.weekday())] += row["n"]
    ranked = sorted(per_query, key=lambda q: (-sum(per_query[q].values()), q))[:top]
    series = tuple(Series(q, tuple(float(per_query[q][w]) for w in weeks)) for q in ranked)
    count = sum(sum(c.values()) for c in per_query.values())
    return Chart("failing-queries", "Top searches that found nothing, per week",
                 f"How often each of the {len(ranked)} most frequent searches without results "
                 f"was made, per week over the last {WEEKS} weeks.",
                 tuple(_week_label(w) for w in weeks), series, kind="line",
                 enough=bool(ranked) and count >= 3,
                 reason=f"Not enough data yet: {count} searches without results in the last "
                        f"{WEEKS} weeks.")


def _months(on: dt.date, months: int, *, ahead: bool) -> list[dt.date]:
    first = on.replace(day=1)
    steps = range(months) if ahead else range(-(months - 1), 1)
    return [add_months(first, n) for n in steps]


def _month_label(day: dt.date) -> str:
    return day.strftime("%b %Y")


def helpful_rate(db: sqlite3.Connection, *, on: dt.date | None = None, months: int = 6,
                 top: int = 5) -> Chart:
    days = _months(on or today(), months, ahead=False)
    rows = db.execute(
        "SELECT kind, slug, substr(created_at, 1, 7) AS month, SUM(helpful) AS yes, "
        "COUNT(*) AS n FROM feedback WHERE created_at >= ? GROUP BY kind, slug, month",
        (days[0].isoformat(),)).fetchall()
    votes: dict[tuple[str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
    for row in rows:
        votes[(row["kind"], row["slug"])][row["month"]] = (row["yes"], row["n"])
    ranked = sorted(votes, key=lambda d: -sum(n for _, n in votes[d].values()))[:top]
    titles = {(d.kind, d.slug): d.title for d in store().all()}

    def rate(doc, month: dt.date) -> float | None:
        yes, n = votes[doc].get(month.strftime("%Y-%m"), (0, 0))
        return round(100 * yes / n) if n >= MIN_MONTH_VOTES else None

    series = tuple(Series(titles.get(d, d[1]), tuple(rate(d, m) for m in days)) for d in ranked)
    points = sum(v is not None for s in series for v in s.values)
    return Chart("helpful", "Helpful rate per document, per month",
                 f"The percentage of “Was this helpful?” votes that said yes, per month, for "
                 f"the {len(series)} most rated documents (months with fewer than "
                 f"{MIN_MONTH_VOTES} votes are left out).",
                 tuple(_month_label(m) for m in days), series, kind="line", unit="%",
                 max_value=100, enough=points >= 2,
                 reason="Not enough data yet: no document has had "
                        f"{MIN_MONTH_VOTES} or more votes in two months.")


def reviews_due(*, on: dt.date | None = None) -> Chart:
    day = on or today()
    months = _months(day, MONTHS, ahead=True)
    overdue, due = 0, Counter()
    for doc in store().all():
        status = dashboard.status_of(doc, on=day)
        if status.due is None:
            continue
        if status.overdue:
            overdue += 1
        else:
            due[status.due.replace(day=1)] += 1
    labels = ("Overdue", *(_month_label(m) for m in months))
    values = (float(overdue), *(float(due[m]) for m in months))
    return Chart("reviews-due", "Reviews falling due per month",
                 f"Documents whose review falls due in each of the next {MONTHS} months, "
                 f"after the {overdue} already overdue.", labels,
                 (Series("Reviews", values),), kind="bar",
                 enough=any(values), reason="Not enough data yet: no document has a review "
                                           "date or a material change to count from.")


def ack_completion(db: sqlite3.Connection, *, limit: int = 15) -> Chart:
    reports = [acks.report(db, doc) for doc in store().all()
               if acks.current_material(doc) is not None]
    reports.sort(key=lambda r: (r.percent, r.doc.title.lower()))
    shown = reports[:limit]
    extra = len(reports) - len(shown)
    return Chart("acks", "Read confirmations per document",
                 "For each document with a material change, the share of staff who have "
                 "confirmed reading its current version, lowest first"
                 + (f" ({extra} more documents not shown)." if extra else "."),
                 tuple(r.doc.title for r in shown),
                 (Series("Confirmed", tuple(float(r.percent) for r in shown)),),
                 kind="hbar", unit="%", max_value=100, enough=bool(shown),
                 reason="Not enough data yet: no document has a material change to confirm.")


def ack_progress(db: sqlite3.Connection, rep: acks.Report, *,
                 on: dt.date | None = None) -> Chart:
    """One document: the share of staff who had confirmed its current version, day by day."""
    day = on or today()
    start = rep.change.when.date() if rep.change else day
    span = max(1, min((day - start).days + 1, 60))
    days = [day - dt.timedelta(days=n) for n in range(span - 1, -1, -1)]
    confirmed = sorted(r.acked_at[:10] for r in rep.rows if r.acked_at)
    staff = len(rep.rows) or 1
    values = tuple(round(100 * sum(c <= d.isoformat() for c in confirmed) / staff, 1)
                   for d in days)
    return Chart("ack-progress", "Confirmations since the change",
                 f"The share of the {len(rep.rows)} staff accounts that had confirmed reading "
                 "the current version, on each day since it changed.",
                 tuple(_week_label(d) for d in days), (Series("Confirmed", values),),
                 kind="line", unit="%", max_value=100,
                 enough=rep.change is not None and span >= 2 and bool(confirmed),
                 reason="Not enough data yet: nobody has confirmed this version, or it "
                        "changed today.")


CHARTS = {
    "search-volume": lambda db: search_volume(db),
    "zero-results": lambda db: zero_result_share(db),
    "failing-queries": lambda db: failing_queries(db),
    "helpful": lambda db: helpful_rate(db),
    "reviews-due": lambda db: reviews_due(),
    "acks": lambda db: ack_completion(db),
}
