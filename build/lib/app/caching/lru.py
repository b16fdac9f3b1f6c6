"""The one in-process cache primitive: a thread-safe LRU bounded by bytes.

Every per-process cache in the portal is a ``SizedLRU`` (``docs/architecture.md`` lists them
with their keys, bounds and freshness rules). Values are measured when stored, with the
cache's own ``size_of`` or, by default, ``approx_size``: old revisions of a long policy can be
a megabyte each, so a cache bounded by entry count alone could grow to gigabytes. Written here
rather than taken from cachetools because every user needs the lock and ``remember`` as well,
and this is the whole of it.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

_OVERHEAD = 64  # bytes per entry for the key, the node and the size itself


def approx_size(value: Any, _depth: int = 0) -> int:
    """Roughly how many bytes ``value`` holds: strings and bytes by length, containers and
    dataclasses by their items (three levels deep, then a flat guess)."""
    if isinstance(value, str | bytes | bytearray):
        return len(value) + 50
    if value is None or isinstance(value, int | float | bool):
        return 16
    if _depth >= 3:
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return 64 + sum(approx_size(k, _depth + 1) + approx_size(v, _depth + 1)
                        for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 56 + sum(approx_size(v, _depth + 1) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return 56 + sum(approx_size(getattr(value, f.name, None), _depth + 1)
                        for f in dataclasses.fields(value))
    return sys.getsizeof(value)


class SizedLRU:
    """Least recently used entries go first once the values measure more than ``max_bytes``
    (or, optionally, there are more than ``max_items``)."""

    def __init__(self, *, max_bytes: int, size_of: Callable[[Any], int] = approx_size,
                 max_items: int | None = None):
        self.max_bytes, self.size_of, self.max_items = max_bytes, size_of, max_items
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        """What the kept values measure now (never more than ``max_bytes``)."""
        return self._bytes

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return default
            self._items.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: Any) -> Any:
        """Keep ``value`` (unless it alone is larger than the bound) and return it."""
        size = self.size_of(value) + _OVERHEAD
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size <= self.max_bytes:
                self._items[key] = (value, size)
                self._bytes += size
            while self._items and (self._bytes > self.max_bytes or (
                    self.max_items is not None and len(self._items) > self.max_items)):
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped
        return value

    def remember(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept for ``key``, made (and kept) when there is none.  Two threads may
        both make a missing value; the values are equal, so either may stay."""
        found = self.get(key)
        return self.put(key, make()) if found is None else found

    def pop(self, key: Hashable) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
