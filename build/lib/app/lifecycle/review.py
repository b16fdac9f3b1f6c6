"""Review schedule: when each document is due for its owner's review.

A document's ``review_by`` date wins; without one, the review falls due a configurable
number of months (``KB_REVIEW_INTERVAL_MONTHS``, default 12) after its last material change.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

DUE_SOON_DAYS = 30


@dataclass(frozen=True)
class ReviewStatus:
    due: dt.date | None
    state: str  # overdue | due-soon | ok | unscheduled
    days: int | None  # days until due (negative: days overdue)

    @property
    def overdue(self) -> bool:
        return self.state == "overdue"


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(review_by: dt.date | None, last_material: dt.date | None, *,
             interval_months: int = 12) -> dt.date | None:
    if review_by is not None:
        return review_by
    if last_material is not None:
        return add_months(last_material, interval_months)
    return None


def review_status(review_by: dt.date | None, last_material: dt.date | None, *,
                  today: dt.date, interval_months: int = 12) -> ReviewStatus:
    """Overdue the day after the due date; "due soon" from 30 days before it, inclusive."""
    due = due_date(review_by, last_material, interval_months=interval_months)
    if due is None:
        return ReviewStatus(None, "unscheduled", None)
    days = (due - today).days
    if days < 0:
        state = "overdue"
    elif days <= DUE_SOON_DAYS:
        state = "due-soon"
    else:
        state = "ok"
    return ReviewStatus(due, state, days)
