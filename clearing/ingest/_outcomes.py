"""What ingest answers for each tap."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class TapStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class TapRejectReason(StrEnum):
    INVALID_TAP_ID = "invalid_tap_id"
    INVALID_MEDIUM_TOKEN = "invalid_medium_token"  # noqa: S105 - a reason name, not a secret
    INVALID_DIRECTION = "invalid_direction"
    MISSING_TIME = "missing_time"
    FUTURE_TIME = "future_time"
    TAP_ID_CONFLICT = "tap_id_conflict"
    DUPLICATE_IN_BATCH = "duplicate_in_batch"
    CARD_MAC_INVALID = "card_mac_invalid"
    CARD_UNKNOWN = "card_unknown"
    RIDE_CODE_INVALID = "ride_code_invalid"
    RIDE_CODE_REPLAYED = "ride_code_replayed"


class TapOutcome(NamedTuple):
    """The fate of one tap; ``reject_reason`` is set only when rejected."""

    tap_id: str
    status: TapStatus
    reject_reason: TapRejectReason | None = None
    detail: str = ""
