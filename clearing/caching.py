"""A bounded least-recently-used map, safe to share between threads.

The server keeps facts that never change once committed (ledger accounts,
device keys, media issuers) close at hand. Each cache is bounded, so a
server that sees millions of distinct keys over its lifetime keeps flat
memory; the lock makes a lookup and its recency update one step, since the
server answers on many threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``capacity`` entries; the least recently used goes first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a cache holds at least one entry")
        self.capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def lookup(self, keys: Iterable[K]) -> tuple[dict[K, V], list[K]]:
        """The cached values among ``keys``, and the keys still to be read."""
        found: dict[K, V] = {}
        missing: list[K] = []
        with self._lock:
            entries = self._entries
            for key in keys:
                value = entries.get(key)
                if value is None:
                    missing.append(key)
                else:
                    entries.move_to_end(key)
                    found[key] = value
        return found, missing

    def get_many(self, keys: Iterable[K], load: Callable[[list[K]], dict[K, V]]) -> dict[K, V]:
        """The value of each of ``keys`` that has one: cached ones from here,
        the rest through ``load`` (which answers only the keys it found),
        then cached. An absence is never cached: it may be filled later."""
        found, missing = self.lookup(keys)
        if missing:
            loaded = load(list(dict.fromkeys(missing)))
            self.put_many(loaded.items())
            found.update(loaded)
        return found

    def put_many(self, items: Iterable[tuple[K, V]]) -> None:
        with self._lock:
            entries = self._entries
            for key, value in items:
                entries[key] = value
                entries.move_to_end(key)
            while len(entries) > self.capacity:
                entries.popitem(last=False)

    def put(self, key: K, value: V) -> None:
        self.put_many([(key, value)])
