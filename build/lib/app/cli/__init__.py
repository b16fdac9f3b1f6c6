"""The command line: ``flask kb ...`` (init, reindex, check, due, backup, log, restore) and
``flask users ...``.

May import every package; registered by ``create_app`` through ``init_app``.
"""
