"""A serving process's garbage collector: tuned, and still collecting.

Each check runs in a fresh interpreter, since tuning is for the whole
process and the test run's own collector must stay as it is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from clearing.server._collector import (
    MIDDLE_GENERATION_COLLECTIONS,
    OLD_GENERATION_COLLECTIONS,
    YOUNG_GENERATION_ALLOCATIONS,
)

_PROBE = textwrap.dedent(
    """
    import gc, json, weakref
    from clearing.server import tune_collector_for_serving

    built_at_start = [[n] for n in range(1000)]
    tune_collector_for_serving()
    frozen = gc.get_freeze_count()

    class Node:
        pass

    def cycle():
        node = Node()
        node.me = node
        return weakref.ref(node)

    few = cycle()
    kept = [[n] for n in range(1000)]  # far below the young threshold
    collected_early = few() is None
    many = cycle()
    kept += [[n] for n in range({allocations})]
    print(json.dumps({{
        "enabled": gc.isenabled(),
        "threshold": gc.get_threshold(),
        "frozen": frozen,
        "collected_early": collected_early,
        "collected_later": many() is None,
    }}))
    """
)


@pytest.fixture(scope="module")
def probe() -> dict[str, object]:
    """What one tuned interpreter reports, shared by the checks below."""
    code = _PROBE.format(allocations=2 * YOUNG_GENERATION_ALLOCATIONS)
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(completed.stdout)
    return result


def test_serving_collects_young_objects_in_larger_generations_and_freezes_startup(
    probe: dict[str, object],
) -> None:
    assert probe["threshold"] == [
        YOUNG_GENERATION_ALLOCATIONS,
        MIDDLE_GENERATION_COLLECTIONS,
        OLD_GENERATION_COLLECTIONS,
    ]
    assert isinstance(probe["frozen"], int)
    assert probe["frozen"] > 1000  # the start's objects, the list built before included
    assert probe["collected_early"] is False  # 700 allocations no longer trigger a collection


def test_serving_still_reclaims_reference_cycles_by_itself(probe: dict[str, object]) -> None:
    """Flat memory over a long run rests on this: garbage made while serving
    is collected without anyone calling gc.collect()."""
    assert probe["enabled"] is True
    assert probe["collected_later"] is True
