"""Documents: front matter, slugs, the store of the committed tree, audience projection, rendering.

``audience.py`` is the only place that decides who may see what. May import: ``app.repo``,
``app.caching``, ``app.clock``, ``app.config``.
"""
