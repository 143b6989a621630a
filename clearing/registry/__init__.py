"""Who takes part, which readers they run and which media they issued.

Every registration is idempotent: the same content again answers the stored
record; different content under the same id is a ConflictError naming the
first field that differs.
"""

from clearing.registry._store import (
    device_for,
    ensure_participant,
    issuer_of_media,
    list_devices,
    list_participants,
    participant_for,
    register_card_scheme,
    register_device,
    register_medium,
    register_participant,
)

__all__ = [
    "device_for",
    "ensure_participant",
    "issuer_of_media",
    "list_devices",
    "list_participants",
    "participant_for",
    "register_card_scheme",
    "register_device",
    "register_medium",
    "register_participant",
]
