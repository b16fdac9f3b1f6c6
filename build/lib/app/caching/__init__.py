"""Per-process caches bounded by bytes, and cache files workers share on disk.

May import only the standard library and ``app.config``.
"""
