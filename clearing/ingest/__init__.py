"""Ingest: authenticate a reader's batch, validate each tap, store the new
ones exactly once, price them, and only then answer.

The order is the contract: nothing is acknowledged before the transaction
holding the taps and their ledger postings has committed.
"""

from clearing.ingest._batch import (
    MAX_BATCH_BYTES,
    MAX_CLOCK_SKEW,
    MAX_GROUP_TAPS,
    MAX_TAPS_PER_BATCH,
    BatchOutcome,
    BatchRejectedError,
    BatchRejectReason,
    Ingestor,
)
from clearing.ingest._outcomes import TapOutcome, TapRejectReason, TapStatus

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_CLOCK_SKEW",
    "MAX_GROUP_TAPS",
    "MAX_TAPS_PER_BATCH",
    "BatchOutcome",
    "BatchRejectReason",
    "BatchRejectedError",
    "Ingestor",
    "TapOutcome",
    "TapRejectReason",
    "TapStatus",
]
