"""Saving documents: commits under one write lock, three-way merges on conflict, crash recovery,
and the editor form.

May import: ``app.history``, ``app.content``, ``app.repo``, ``app.locks``, ``app.clock``.
"""
