"""The portal's one clock: ``today()`` is the date every rule uses (reviews, versions in force,
the changelog, search).

Tests set the ``KB_TODAY`` setting (a ``date`` or ``YYYY-MM-DD``) to cross date boundaries
without waiting. Imports nothing from the project.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context


def today() -> dt.date:
    """Today's date for this application (``KB_TODAY`` when set), also outside a request."""
    fixed = current_app.config.get("KB_TODAY") if has_app_context() else None
    if isinstance(fixed, dt.date):
        return fixed
    return dt.date.fromisoformat(str(fixed)) if fixed else dt.date.today()
