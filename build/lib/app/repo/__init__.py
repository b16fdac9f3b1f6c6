"""Git: reading the committed tree and history (git CLI), writing commits (pygit2), head moves.

The lowest layer. May import: ``app.config``, ``app.clock``, ``app.locks``, ``app.caching``.
Knows nothing of documents or audiences.
"""
