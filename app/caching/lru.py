"""A thread-safe LRU bounded by entry count and by approximate size in bytes.

Old revisions of a long policy can be a megabyte each; a count-only cache of parsed
revisions could grow to gigabytes, so history caches are bounded by size as well.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class SizedLRU:
    def __init__(self, *, max_items: int, max_bytes: int, size_of: Callable[[Any], int]):
        self.max_items, self.max_bytes, self.size_of = max_items, max_bytes, size_of
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return default
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: Any) -> Any:
        size = self.size_of(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._items and (len(self._items) > self.max_items
                                   or self._bytes > self.max_bytes):
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return value

    def remember(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept for ``key``, made (and kept) when there is none.  Two threads may
        both make a missing value; the values are equal, so either may stay."""
        found = self.get(key)
        return self.put(key, make()) if found is None else found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
