"""Revisions of a document, the version in force for an audience on a date, diffs, the public
changelog and feed, and the catalogue lists built from them.

May import: ``app.content``, ``app.repo``, ``app.caching``, ``app.clock``.
"""
