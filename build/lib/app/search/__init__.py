"""Search: the public and staff indexes, query planning, ranking, results and snippets.

Indexes are built from projected documents (``app.content.audience``). May import:
``app.history``, ``app.content``, ``app.repo``, ``app.caching``, ``app.locks``, ``app.clock``.
"""
