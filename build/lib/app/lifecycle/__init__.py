"""Keeping policies current: review dates, clarity checks, read acknowledgements, feedback,
search analytics and the owners' dashboard.

May import: ``app.editing``, ``app.history``, ``app.content``, ``app.repo``, ``app.db``,
``app.accounts.auth`` (roles), ``app.clock``.
"""
