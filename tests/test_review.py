"""Review-due computation at date boundaries."""

import datetime as dt

import pytest

from app.lifecycle.review import add_months, due_date, review_status

D = dt.date


@pytest.mark.parametrize("today, state, days", [
    (D(2026, 11, 23), "ok", 38),
    (D(2026, 12, 1), "due-soon", 30),  # exactly 30 days before: due soon
    (D(2026, 11, 30), "ok", 31),
    (D(2026, 12, 31), "due-soon", 0),  # due today is not yet overdue
    (D(2027, 1, 1), "overdue", -1),
])
def test_boundaries(today, state, days):
    status = review_status(D(2026, 12, 31), None, today=today)
    assert (status.state, status.days) == (state, days)


def test_review_by_wins_over_interval():
    assert due_date(D(2026, 5, 1), D(2026, 4, 1)) == D(2026, 5, 1)


def test_interval_from_last_material_change():
    assert due_date(None, D(2025, 11, 23)) == D(2026, 11, 23)
    assert due_date(None, D(2025, 11, 23), interval_months=6) == D(2026, 5, 23)
    assert review_status(None, D(2025, 11, 22), today=D(2026, 11, 23)).overdue


def test_unscheduled():
    assert review_status(None, None, today=D(2026, 1, 1)).state == "unscheduled"


@pytest.mark.parametrize("start, months, end", [
    (D(2026, 1, 31), 1, D(2026, 2, 28)),
    (D(2024, 2, 29), 12, D(2025, 2, 28)),
    (D(2026, 11, 15), 2, D(2027, 1, 15)),
])
def test_add_months_clamps_month_ends(start, months, end):
    assert add_months(start, months) == end
