"""The one cache primitive: bounded by bytes, least recently used first out."""

from __future__ import annotations

import pytest

from app.caching.lru import SizedLRU, approx_size
from app.content import render as render_module
from app.history import changelog, diffing, revisions


def test_bounded_by_bytes_least_recently_used_first():
    cache = SizedLRU(max_bytes=1000, size_of=len)
    cache.put("a", "x" * 300)
    cache.put("b", "y" * 300)
    assert cache.get("a")  # "a" is now the most recently used
    cache.put("c", "z" * 300)  # 3 x (300 + overhead) > 1000: the oldest, "b", goes
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.bytes <= 1000


def test_a_value_larger_than_the_bound_is_returned_but_not_kept():
    cache = SizedLRU(max_bytes=100, size_of=len)
    assert cache.put("big", "x" * 500) == "x" * 500
    assert "big" not in cache and cache.bytes == 0


def test_remember_makes_once():
    cache = SizedLRU(max_bytes=10_000)
    calls = []
    for _ in range(3):
        assert cache.remember("k", lambda: calls.append(1) or "value") == "value"
    assert calls == [1]


def test_replacing_a_key_counts_its_size_once():
    cache = SizedLRU(max_bytes=10_000, size_of=len)
    for _ in range(50):
        cache.put("k", "x" * 100)
    assert len(cache) == 1 and cache.bytes < 300


@pytest.mark.parametrize("value, at_least", [
    ("x" * 10_000, 10_000),
    (b"y" * 5_000, 5_000),
    (["x" * 1000] * 10, 10_000),
    ({"a": "x" * 2000, "b": ("y" * 3000,)}, 5_000),
])
def test_approx_size_counts_what_a_value_holds(value, at_least):
    assert approx_size(value) >= at_least


@pytest.mark.parametrize("cache", [
    render_module._cache, diffing._block_text, changelog._results, changelog._projected,
    changelog._by_commit, revisions._revision_lists, revisions._in_force, revisions._parsed,
], ids=lambda c: f"{c.max_bytes >> 20} MB")
def test_history_and_render_caches_are_bounded_by_bytes(cache):
    assert isinstance(cache, SizedLRU) and 0 < cache.max_bytes <= 64 << 20


def test_render_cache_key_follows_the_sanitizer_settings(monkeypatch):
    """A sanitizer fix (or a package upgrade) must render pages again, not serve old HTML."""
    before = render_module._renderer_digest()
    monkeypatch.setattr(render_module, "ALLOWED_TAGS", render_module.ALLOWED_TAGS - {"img"})
    assert render_module._renderer_digest() != before
    monkeypatch.undo()
    monkeypatch.setattr(render_module, "_version", lambda package: "99.0")
    assert render_module._renderer_digest() != before
