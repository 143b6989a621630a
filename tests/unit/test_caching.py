"""The shared bounded cache: never above its capacity, usable from many threads."""

from __future__ import annotations

import sys
import threading

import pytest

from clearing.caching import BoundedCache


def test_a_cache_without_room_is_refused():
    with pytest.raises(ValueError, match="at least one entry"):
        BoundedCache[int, int](0)


def test_the_least_recently_used_entry_goes_first():
    cache = BoundedCache[str, int](2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert cache.lookup(["a", "b", "c"]) == ({"a": 1, "c": 3}, ["b"])


def test_threads_sharing_a_small_cache_never_break_it():
    cache = BoundedCache[int, int](8)
    failures: list[BaseException] = []

    def churn(offset: int) -> None:
        try:
            for n in range(5_000):
                key = (n * 7 + offset) % 32
                cache.put(key, key)
                found, _ = cache.lookup(range(32))
                assert all(found[k] == k for k in found)
        except BaseException as error:
            failures.append(error)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the lock-free window to other threads often
    try:
        threads = [threading.Thread(target=churn, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert failures == []
    assert len(cache) <= 8


def test_get_many_loads_only_what_is_missing_and_remembers_only_what_was_found() -> None:
    cache: BoundedCache[str, int] = BoundedCache(10)
    cache.put("known", 1)
    asked: list[list[str]] = []

    def load(keys: list[str]) -> dict[str, int]:
        asked.append(keys)
        return {k: len(k) for k in keys if k != "absent"}

    assert cache.get_many(["known", "new", "absent", "new"], load) == {"known": 1, "new": 3}
    assert asked == [["new", "absent"]]
    assert cache.get_many(["new", "absent"], load) == {"new": 3}
    assert asked[-1] == ["absent"]  # an absence is asked again, never remembered
    assert len(cache) == 2


def test_get_many_answers_every_key_even_beyond_the_bound() -> None:
    cache: BoundedCache[int, int] = BoundedCache(2)
    assert cache.get_many(range(5), lambda keys: {k: k * k for k in keys}) == {
        k: k * k for k in range(5)
    }
    assert len(cache) == 2
