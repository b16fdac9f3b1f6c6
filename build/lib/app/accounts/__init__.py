"""Users, roles and ``can()``, sessions, sign-in throttling, security headers and CSRF.

May import: ``app.content.audience`` (a signed-in user's viewer), ``app.db``, ``app.locks``,
``app.config``.
"""
