"""The garbage collector of a serving process, tuned for the tap path.

Every tap batch allocates tens of thousands of short-lived containers
(messages, tuples, rows), and up to sixteen thousand taps wait in flight at
once. With CPython's default thresholds (700, 10, 10) the youngest
generation is collected every 700 allocations, so batches still in flight
survive into the older generations, and those fill fast enough that full
collections run every few seconds and traverse every object the process
holds: the modules, the caches of devices, media and accounts, the gRPC
and SQLAlchemy machinery. The group commit leader paid for most of them
in its own turn: 12% of it in a sustained run (py-spy, native frames).

Serving processes therefore freeze what they built at start (it lives as
long as the process and is never garbage) and collect the young generation
every ``YOUNG_GENERATION_ALLOCATIONS`` allocations, a few batches' worth,
by which time their answers have gone out and almost nothing survives.
Collection stays on: reference cycles made while serving are still
reclaimed, so memory stays flat.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_ALLOCATIONS = 50_000
"""Container allocations (less deallocations) between young collections."""
MIDDLE_GENERATION_COLLECTIONS = 20
"""Young collections between collections of the middle generation."""
OLD_GENERATION_COLLECTIONS = 10
"""Middle collections between full collections (CPython also waits until
the objects promoted since the last full one are a quarter of the rest)."""


def tune_collector_for_serving() -> None:
    """Freezes everything the process holds now and sets the thresholds above.

    Call it once, in the process that serves, after the server has started:
    not in a process that starts and stops many servers (a test run), whose
    frozen objects would never be reclaimed.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(
        YOUNG_GENERATION_ALLOCATIONS, MIDDLE_GENERATION_COLLECTIONS, OLD_GENERATION_COLLECTIONS
    )
